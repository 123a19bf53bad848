"""Order services: rules enforced in the service, audit written, bad input changes nothing."""

import pytest
from sqlmodel import select

from tests.helpers import customer, order_with_lines
from verkstad.audit import AuditEvent
from verkstad.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)
from verkstad.orders import service
from verkstad.orders.service import CustomerInput, LineInput, VehicleInput
from verkstad.orders.status import Action, OrderStatus
from verkstad.users import Actor, Role


def test_worked_example_totals_on_the_order(db, admin):
    order = order_with_lines(db, admin)
    t = order.totals
    assert (t.net, t.vat, t.payable, t.rounding) == (304_920, 76_230, 381_200, 50)
    assert [(r.rate, r.vat) for r in t.rates] == [(25, 76_230)]


def test_customer_normalised_and_numbered(db, admin):
    c = service.create_customer(
        db, admin, CustomerInput("  Åsa Öberg ", "070-123 45 67", "asa@Example.se")
    )
    assert (c.number, c.name, c.phone, c.email) == (
        10001,
        "Åsa Öberg",
        "+46701234567",
        "asa@example.se",
    )
    assert service.create_customer(db, admin, CustomerInput("Bo")).number == 10002


def test_bad_customer_input_changes_nothing(db, admin):
    with pytest.raises(ValidationError, match="Mobile phone"):
        service.create_customer(db, admin, CustomerInput("Bo", phone="12"))
    with pytest.raises(ValidationError, match="Name"):
        service.create_customer(db, admin, CustomerInput("  "))
    assert service.search_customers(db) == []
    assert service.create_customer(db, admin, CustomerInput("Bo")).number == 10001  # no gap


def test_search_customers_by_name_phone_number_and_reg(db, admin):
    n = customer(db, admin, "Anna Andersson", "070-123 45 67")
    customer(db, admin, "Bo Ek", "070-765 43 21")
    service.add_vehicle(db, admin, n, VehicleInput("abc 123", "Volvo", "V70"))
    for term in ("anna", "0701234567", "070-123 45 67", str(n), "ABC123", "abc"):
        assert [c.number for c in service.search_customers(db, term)] == [n], term


def test_vehicle_unique_and_belongs_to_customer(db, admin):
    a, b = customer(db, admin, "A"), customer(db, admin, "B")
    service.add_vehicle(db, admin, a, VehicleInput("ABC123"))
    with pytest.raises(ConflictError):
        service.add_vehicle(db, admin, b, VehicleInput("abc-123"))
    with pytest.raises(ValidationError, match="another customer"):
        service.create_order(db, admin, b, "ABC123")
    order = service.create_order(db, admin, a, "abc123")
    assert order.vehicle and order.vehicle.reg_number == "ABC123"


def test_lines_edit_and_delete_recompute_totals(db, admin):
    order = order_with_lines(db, admin)
    first = order.lines[0]
    order = service.update_line(
        db, admin, order.number, first.id, LineInput("Bromsbelägg", "2", "1 199,20")
    )
    assert order.totals.net == 2 * 119_920 + 185_000
    order = service.delete_line(db, admin, order.number, first.id)
    assert [line.description for line in order.lines] == ["Arbete"]
    assert order.totals.payable == 231_300  # 1850 + 462,50 → 2 312,50 → 2 313


def test_bad_line_changes_nothing(db, admin):
    order = order_with_lines(db, admin)
    for bad, field in [
        (LineInput("x", "0"), "Quantity"),
        (LineInput("x", "1", "12.3456"), "Unit price"),
        (LineInput("x", "1", "-5"), "Unit price"),
        (LineInput("x", vat_rate="15"), "VAT rate"),
        (LineInput("", "1"), "Description"),
        (LineInput("x", kind="tyre"), "Kind"),
        (LineInput("x", discount="150"), "Discount"),
    ]:
        with pytest.raises(ValidationError, match=field):
            service.add_line(db, admin, order.number, bad)
    after = service.get_order(db, order.number)
    assert after.lines == order.lines and after.version == order.version


def test_complete_and_reopen_follow_the_table(db, admin):
    order = order_with_lines(db, admin)
    assert service.complete(db, admin, order.number).status == OrderStatus.DONE
    with pytest.raises(DomainError, match="not possible"):
        service.complete(db, admin, order.number)
    assert service.reopen(db, admin, order.number).status == OrderStatus.OPEN


def test_empty_order_cannot_be_completed(db, admin):
    order = service.create_order(db, admin, customer(db, admin))
    service.add_line(db, admin, order.number, LineInput("Kunden väntar", kind="text"))
    with pytest.raises(DomainError, match="no lines to charge"):
        service.complete(db, admin, order.number)


@pytest.mark.parametrize("locked", [OrderStatus.MPAY, OrderStatus.POSTED, OrderStatus.CREDITED])
def test_locked_order_refuses_every_edit(db, admin, locked):
    order = order_with_lines(db, admin)
    with db.session() as s:
        row = service.lock_order(s, order.number)
        row.status = locked
    line = order.lines[0].id
    edits = [
        lambda: service.add_line(db, admin, order.number, LineInput("x")),
        lambda: service.update_line(db, admin, order.number, line, LineInput("x")),
        lambda: service.delete_line(db, admin, order.number, line),
        lambda: service.update_order(db, admin, order.number, notes="x"),
        lambda: service.update_order(db, admin, order.number, payment_method="KORT"),
    ]
    for edit in edits:
        with pytest.raises(DomainError, match="locked"):
            edit()
    assert service.get_order(db, order.number).lines == order.lines


def test_mpay_transition_is_for_the_payment_service(db, admin):
    order = order_with_lines(db, admin)
    service.complete(db, admin, order.number)
    with db.session() as s:
        service.transition(s, admin, service.lock_order(s, order.number), Action.SEND_PAYMENT)
    assert service.get_order(db, order.number).status == OrderStatus.MPAY
    with pytest.raises(DomainError, match="not possible"):
        service.reopen(db, admin, order.number)


def test_stale_version_is_a_conflict_and_loses_nothing(db, admin):
    order = order_with_lines(db, admin)
    anna = Actor("anna", Role.STAFF)
    service.add_line(
        db, anna, order.number, LineInput("Torkarblad", "2", "249"), expected_version=order.version
    )
    with pytest.raises(ConflictError, match="changed by anna"):
        service.add_line(db, admin, order.number, LineInput("Olja"), expected_version=order.version)
    assert [x.description for x in service.get_order(db, order.number).lines] == [
        "Bromsbelägg",
        "Arbete",
        "Torkarblad",
    ]


def test_manual_mobile_methods_cannot_be_set_by_hand(db, admin):
    order = order_with_lines(db, admin)
    with pytest.raises(ValidationError, match="mobile payment functions"):
        service.update_order(db, admin, order.number, payment_method="MOBIL")
    assert (
        service.update_order(db, admin, order.number, payment_method="kort").payment_method
        == "KORT"
    )


def test_every_change_is_audited(db, admin):
    order = order_with_lines(db, admin)
    service.complete(db, admin, order.number)
    history = service.order_history(db, order.number)
    assert [h["action"] for h in history] == ["create", "add_line", "add_line", "complete"]
    assert history[-1]["before"] == "ÖPPEN" and history[-1]["after"] == "KLART"
    assert all(h["user"] == "admin" for h in history)


def test_unknown_things_are_clear_errors(db, admin):
    with pytest.raises(NotFoundError, match="no order number 99"):
        service.get_order(db, 99)
    with pytest.raises(NotFoundError, match="no customer number 5"):
        service.create_order(db, admin, 5)


def test_company_settings_need_admin(db, admin):
    with pytest.raises(PermissionDenied):
        service.update_company(db, Actor("anna", Role.STAFF), name="X")
    company = service.update_company(db, admin, name="Bilverkstaden AB", country="NO")
    assert (company.name, company.currency, company.round_to_whole) == (
        "Bilverkstaden AB",
        "NOK",
        False,
    )
    with db.read() as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.entity == "company")).first()
