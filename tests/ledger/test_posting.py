"""Bokför: the worked example to the öre, debit per payment method, rules, one transaction."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import select

from tests.helpers import order_with_lines
from tests.ledger.builders import klart, paid_by_mobile
from verkstad import failpoints
from verkstad.errors import ConflictError, DomainError, PermissionDenied, ValidationError
from verkstad.ledger.accounts import get_chart, set_account
from verkstad.ledger.journal import balance, iter_verifications
from verkstad.ledger.models import Verification
from verkstad.ledger.posting import invoice_rows, post_order
from verkstad.mpay import service as mpay
from verkstad.orders import service
from verkstad.orders.service import LineInput
from verkstad.orders.status import OrderStatus
from verkstad.orders.totals import compute_totals, line_net
from verkstad.users import Actor, Role

WORKED_EXAMPLE = [
    ("1931", 381200),
    ("3051", -119920),
    ("3041", -185000),
    ("2611", -76230),
    ("3740", -50),
]


def rows(posted) -> list[tuple[str, int]]:
    return [(r.account, r.amount_minor) for r in posted.rows]


def test_worked_example_paid_by_mobile(any_db, admin, provider):
    number = paid_by_mobile(any_db, admin, provider)
    posted = post_order(any_db, admin, number)
    assert rows(posted) == WORKED_EXAMPLE
    assert (posted.invoice_number, posted.verification_number) == (1, 1)
    order = service.get_order(any_db, number)
    assert order.status is OrderStatus.POSTED
    assert order.invoice_number == 1 and order.posted_at is not None
    assert balance(any_db, "1931") == 381200
    [verification] = iter_verifications(any_db)
    assert verification.kind == "invoice" and verification.order_number == number
    assert [(r.account, r.amount_minor) for r in verification.rows] == WORKED_EXAMPLE


@pytest.mark.parametrize(
    ("method", "account"), [("KONTANT", "1910"), ("KORT", "1580"), ("FAKTURA", "1510")]
)
def test_debit_follows_the_payment_method(db, admin, method, account):
    posted = post_order(db, admin, klart(db, admin, method))
    assert rows(posted)[0] == (account, 381200)
    assert rows(posted)[1:] == WORKED_EXAMPLE[1:]


def test_manual_mobile_payment_debits_the_bank(db, admin):
    order = order_with_lines(db, admin)
    service.complete(db, admin, order.number)
    mpay.record_manual(db, admin, order.number, "Swish 14:02")
    assert rows(post_order(db, admin, order.number))[0] == ("1930", 381200)


def test_every_account_is_configurable(db, admin):
    set_account(db, admin, "payment.FAKTURA", "1511", "Kundfordringar verkstad")
    set_account(db, admin, "sales.25.part", "3001")
    set_account(db, admin, "sales.25.labour", "3001")
    posted = post_order(db, admin, klart(db, admin))
    assert rows(posted) == [("1511", 381200), ("3001", -304920), ("2611", -76230), ("3740", -50)]
    assert get_chart(db).name("1511") == "Kundfordringar verkstad"


def test_only_an_admin_changes_the_chart(db):
    with pytest.raises(PermissionDenied):
        set_account(db, Actor("kalle", Role.STAFF), "payment.MOBIL", "1932")
    with pytest.raises(ValidationError):
        set_account(db, Actor("admin", Role.ADMIN), "payment.MOBIL", "19x1")
    with pytest.raises(ValidationError):
        set_account(db, Actor("admin", Role.ADMIN), "no.such.role", "1931")


def test_rounding_down_is_a_debit_and_rates_are_split(db, admin):
    order = order_with_lines(db, admin)
    n = order.number
    for line in order.lines:
        service.delete_line(db, admin, n, line.id)
    service.add_line(db, admin, n, LineInput("Olja", "1", "80", "25", "part"))  # 100,00
    service.add_line(db, admin, n, LineInput("Bok", "1", "100", "6", "part"))  # 106,00
    service.add_line(db, admin, n, LineInput("Mat", "1", "10", "12", "fee"))  # 11,20
    service.add_line(db, admin, n, LineInput("Avgift", "1", "5", "0", "fee"))  # 5,00
    service.add_line(db, admin, n, LineInput("Tack!", kind="text"))
    service.complete(db, admin, n)
    service.update_order(db, admin, n, payment_method="KORT")
    assert rows(post_order(db, admin, n)) == [
        ("1580", 22200),  # 222,20 rounded down
        ("3051", -8000),
        ("3002", -1000),
        ("3003", -10000),
        ("3004", -500),
        ("2611", -2000),
        ("2621", -120),
        ("2631", -600),
        ("3740", 20),
    ]


def test_unpaid_mobile_order_is_not_posted(db, admin, provider):
    order = order_with_lines(db, admin)
    service.complete(db, admin, order.number)
    mpay.send(db, provider, admin, order.number)
    with pytest.raises(DomainError, match="waiting for its mobile payment"):
        post_order(db, admin, order.number)
    assert service.get_order(db, order.number).status is OrderStatus.MPAY


def test_klart_needs_a_payment_method_and_open_orders_are_refused(db, admin):
    order = order_with_lines(db, admin)
    with pytest.raises(DomainError, match="not possible for an order in status ÖPPEN"):
        post_order(db, admin, order.number)
    service.complete(db, admin, order.number)
    with pytest.raises(ValidationError, match="Payment method"):
        post_order(db, admin, order.number)
    with db.read() as s:
        assert s.exec(select(Verification)).all() == []
    assert post_order(db, admin, klart(db, admin)).invoice_number == 1  # nothing was used up


def test_posting_twice_is_refused(db, admin):
    number = klart(db, admin)
    post_order(db, admin, number)
    with pytest.raises(DomainError, match="BOKFÖRD"):
        post_order(db, admin, number)


def test_stale_screen_is_refused(db, admin):
    number = klart(db, admin)
    version = service.get_order(db, number).version
    service.update_order(db, admin, number, notes="changed")
    with pytest.raises(ConflictError):
        post_order(db, admin, number, expected_version=version)


def test_a_crash_before_commit_leaves_nothing_half_done(any_db, admin):
    number = klart(any_db, admin)
    failpoints.arm("ledger.before_commit")
    try:
        with pytest.raises(failpoints.SimulatedCrash):
            post_order(any_db, admin, number)
    finally:
        failpoints.disarm_all()
    order = service.get_order(any_db, number)
    assert (order.status, order.invoice_number) == (OrderStatus.DONE, None)
    assert list(iter_verifications(any_db)) == []
    posted = post_order(any_db, admin, number)
    assert (posted.invoice_number, posted.verification_number) == (1, 1)


# ---------------------------------------------------------------- property: any order balances


@dataclass
class Line:
    kind: str
    quantity_milli: int
    unit_price_minor: int
    discount_bp: int
    vat_rate: int


lines_strategy = st.lists(
    st.builds(
        Line,
        kind=st.sampled_from(["part", "labour", "fee", "text"]),
        quantity_milli=st.integers(0, 1_000_000),
        unit_price_minor=st.integers(0, 10_000_000),
        discount_bp=st.integers(0, 10_000),
        vat_rate=st.sampled_from([25, 12, 6, 0]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(
    lines=lines_strategy,
    round_to_whole=st.booleans(),
    method=st.sampled_from(["MOBIL", "KONTANT", "KORT", "FAKTURA", "MANUELL_MOBIL"]),
)
def test_any_order_posts_balanced_with_vat_per_rate(lines, round_to_whole, method):
    from verkstad.ledger.accounts import ROLES, Chart

    chart = Chart({role: default for role, (default, _d) in ROLES.items()}, {})
    for line in lines:
        if line.kind == "text":
            line.quantity_milli = line.unit_price_minor = line.discount_bp = line.vat_rate = 0
    totals = compute_totals(lines, round_to_whole)
    booked = invoice_rows(lines, round_to_whole, method, chart)
    assert sum(r.amount for r in booked) == 0
    assert all(r.amount for r in booked)
    payment = [r for r in booked if r.role == "payment"]
    assert sum(r.amount for r in payment) == totals.payable
    if totals.payable:
        assert payment[0].account == chart.payment(method)
    for rate in (25, 12, 6, 0):
        vat = -sum(r.amount for r in booked if r.role == "vat" and r.vat_rate == rate)
        sales = -sum(r.amount for r in booked if r.role == "sales" and r.vat_rate == rate)
        expected = next((t for t in totals.rates if t.rate == rate), None)
        assert vat == (expected.vat if expected else 0)
        assert sales == (expected.net if expected else 0)
        assert sales == sum(line_net(x) for x in lines if x.vat_rate == rate and x.kind != "text")
    assert -sum(r.amount for r in booked if r.role == "rounding") == totals.rounding
