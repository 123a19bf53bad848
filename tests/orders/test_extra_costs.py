"""Extra cost rules: the category's fees are added once, when the order is first completed."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tests.helpers import customer, order_with_lines
from tests.ledger.fakes import FakeProvider
from verkstad.audit import AuditEvent, history
from verkstad.errors import PermissionDenied, ValidationError
from verkstad.ledger.credit import credit_order
from verkstad.ledger.posting import post_order
from verkstad.orders import service
from verkstad.orders.extra_costs import add_rule, list_rules, remove_rule
from verkstad.orders.service import LineInput
from verkstad.users import Actor, Role


def parts_order(db, admin) -> int:
    number = service.create_order(db, admin, customer(db, admin)).number
    service.add_line(db, admin, number, LineInput("Däck", "4", "1 000", "25", "part"))
    return number


def fees(db, number: int) -> list[tuple[str, int]]:
    lines = service.get_order(db, number).lines
    return [(x.description, x.unit_price_minor) for x in lines if x.kind == "fee"]


def test_the_categorys_and_the_default_rules_add_their_fees_on_completion(db, admin):
    add_rule(db, admin, "service", "Miljöavgift", "75", article_number="MILJO")
    add_rule(db, admin, "parts", "Frakt", "49")
    add_rule(db, admin, "default", "Hanteringsavgift", "10", "12")
    service_order = order_with_lines(db, admin)  # labour: "service"
    assert fees(db, service_order.number) == []  # nothing before completion
    done = service.complete(db, admin, service_order.number)
    assert fees(db, done.number) == [("Miljöavgift", 7500), ("Hanteringsavgift", 1000)]
    fee = done.lines[-1]
    assert (fee.vat_rate, fee.quantity_milli, fee.position) == (12, 1000, 4)
    # 3 811,50 + 75,00 × 1,25 + 10,00 × 1,12 = 3 916,45 → rounded to 3 916 kr
    assert done.totals.payable == 391600
    parts = service.complete(db, admin, parts_order(db, admin))
    assert fees(db, parts.number) == [("Frakt", 4900), ("Hanteringsavgift", 1000)]
    added = [e for e in history(db, "order", done.number) if e["action"] == "extra_cost"]
    assert [e["after"]["description"] for e in added] == ["Miljöavgift", "Hanteringsavgift"]


def test_a_fee_staff_removed_does_not_come_back(db, admin):
    add_rule(db, admin, "service", "Miljöavgift", "75")
    number = order_with_lines(db, admin).number
    done = service.complete(db, admin, number)
    service.reopen(db, admin, number)
    service.delete_line(db, admin, number, done.lines[-1].id)
    again = service.complete(db, admin, number)
    assert fees(db, number) == [] and again.totals.payable == 381200


def test_a_credited_orders_copy_keeps_its_fee_once(db, admin):
    add_rule(db, admin, "service", "Miljöavgift", "75")
    number = order_with_lines(db, admin).number
    service.complete(db, admin, number)
    service.update_order(db, admin, number, payment_method="FAKTURA")
    post_order(db, admin, number)
    copy = credit_order(db, FakeProvider(), admin, number).copy_order_number
    assert copy is not None
    service.complete(db, admin, copy)
    assert fees(db, copy) == [("Miljöavgift", 7500)]


def test_a_removed_rule_adds_nothing_more_and_orders_keep_their_lines(db, admin):
    rule = add_rule(db, admin, "default", "Miljöavgift", "75")
    first = service.complete(db, admin, order_with_lines(db, admin).number)
    remove_rule(db, admin, rule.id)
    second = service.complete(db, admin, order_with_lines(db, admin).number)
    assert fees(db, first.number) == [("Miljöavgift", 7500)] and fees(db, second.number) == []
    assert list_rules(db) == []


@pytest.mark.parametrize(
    ("category", "description", "price", "vat", "field"),
    [
        ("bilar", "Frakt", "49", "25", "Category"),
        ("parts", "", "49", "25", "Description"),
        ("parts", "Frakt", "fyrtio", "25", "Unit price excl. VAT"),
        ("parts", "Frakt", "0", "25", "Unit price excl. VAT"),
        ("parts", "Frakt", "-5", "25", "Unit price excl. VAT"),
        ("parts", "Frakt", "49", "7", "VAT rate"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field_and_nothing_is_saved(
    db, admin, category, description, price, vat, field
):
    with pytest.raises(ValidationError) as refused:
        add_rule(db, admin, category, description, price, vat)
    assert str(refused.value).startswith(f"{field}:")
    assert list_rules(db) == []


def test_only_an_administrator_keeps_the_rules_and_refusals_are_audited(db, admin):
    staff = Actor("anna", Role.STAFF)
    with pytest.raises(PermissionDenied):
        add_rule(db, staff, "default", "Miljöavgift", "75")
    rule = add_rule(db, admin, "default", "Miljöavgift", "75")
    with pytest.raises(PermissionDenied):
        remove_rule(db, Actor("bengt", Role.PAYMENT_MANAGER), rule.id)
    assert len(list_rules(db)) == 1
    with db.read() as s:
        refused = s.exec(select(AuditEvent).where(AuditEvent.action.endswith("refused"))).all()  # type: ignore[attr-defined]
    assert [e.user_name for e in refused] == ["anna", "bengt"]


def test_the_cli_adds_lists_and_removes_rules(cli):
    assert (
        cli(
            "--user",
            "admin",
            "extra-costs",
            "add",
            "--category",
            "service",
            "--description",
            "Miljöavgift",
            "--price",
            "75,50",
        )[0]
        == 0
    )
    code, out, _err = cli("extra-costs", "list", "--format", "csv")
    assert out.splitlines() == [
        "id,category,description,article_number,unit_price_minor,vat_rate",
        "1,service,Miljöavgift,,7550,25",
    ]
    code, _out, err = cli(
        "--user",
        "admin",
        "extra-costs",
        "add",
        "--category",
        "bilar",
        "--description",
        "x",
        "--price",
        "1",
    )
    assert code != 0 and "Category" in err
    assert cli("--user", "admin", "extra-costs", "remove", "1")[0] == 0
    assert cli("extra-costs", "list", "--format", "csv")[1].splitlines()[1:] == []
