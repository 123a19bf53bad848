"""Kreditera: mirror verification, own number, refund first, copy linked both ways, partials."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tests.ledger.builders import klart, paid_by_mobile
from verkstad import failpoints
from verkstad.errors import DomainError, NotFoundError
from verkstad.ledger.credit import credit_order
from verkstad.ledger.journal import balance, iter_verifications
from verkstad.ledger.models import CreditNote
from verkstad.ledger.posting import post_order
from verkstad.mpay.models import PaymentRequest
from verkstad.orders import service
from verkstad.orders.status import OrderStatus

ACCOUNTS = ("1510", "1931", "3051", "3041", "2611", "3740")


def booked(db, kind):
    found = [v for v in iter_verifications(db) if v.kind == kind]
    return [[(r.account, r.amount_minor) for r in v.rows] for v in found]


def nets_to_zero(db) -> bool:
    return all(balance(db, a) == 0 for a in ACCOUNTS)


def test_full_credit_mirrors_the_invoice_and_reopens_a_copy(db, admin, provider):
    number = klart(db, admin)
    post_order(db, admin, number)
    credit = credit_order(db, provider, admin, number, reason="fel pris")
    assert (credit.number, credit.original_invoice_number) == (2, 1)  # same series
    assert credit.total_minor == 381200 and credit.refund_minor == 0
    [invoice] = booked(db, "invoice")
    assert booked(db, "credit") == [[(a, -amount) for a, amount in invoice]]
    assert nets_to_zero(db)
    original = service.get_order(db, number)
    assert original.status is OrderStatus.CREDITED
    copy = service.get_order(db, credit.copy_order_number)
    assert (original.copied_to, copy.copied_from) == (copy.number, number)
    assert copy.status is OrderStatus.OPEN and copy.payment_method is None
    assert [(x.description, x.net_minor) for x in copy.lines] == [
        (x.description, x.net_minor) for x in original.lines
    ]
    assert copy.totals.payable == 381200
    service.add_line(db, admin, copy.number, service.LineInput("Torkarblad", "1", "100"))


def test_mobile_payment_is_refunded_and_1931_clears(db, admin, provider):
    number = paid_by_mobile(db, admin, provider)
    post_order(db, admin, number)
    credit = credit_order(db, provider, admin, number)
    assert credit.refund_minor == 381200
    [payment] = provider.payments.values()
    assert payment.refunded == 381200 and len(provider.refund_keys) == 1
    assert balance(db, "1931") == 0
    with db.read() as s:
        assert s.exec(select(PaymentRequest.state)).one() == "REFUNDED"
        note = s.exec(select(CreditNote)).one()
        assert note.payment_request_id is not None and note.refund_minor == 381200


def _unchanged(db, number, version):
    order = service.get_order(db, number)
    assert (order.status, order.version) == (OrderStatus.POSTED, version)
    assert booked(db, "credit") == []
    with db.read() as s:
        assert s.exec(select(CreditNote)).all() == []


def test_refused_refund_credits_nothing(db, admin, provider):
    number = paid_by_mobile(db, admin, provider)
    post_order(db, admin, number)
    version = service.get_order(db, number).version
    provider.refuse_refunds = True
    with pytest.raises(DomainError, match="refund window closed"):
        credit_order(db, provider, admin, number)
    _unchanged(db, number, version)
    provider.refuse_refunds = False
    assert credit_order(db, provider, admin, number).number == 2  # the series has no gap


def test_unknown_refund_outcome_credits_nothing_until_reconciled(db, admin, provider):
    number = paid_by_mobile(db, admin, provider)
    post_order(db, admin, number)
    version = service.get_order(db, number).version
    provider.unavailable = True
    with pytest.raises(DomainError, match="did not answer"):
        credit_order(db, provider, admin, number)
    _unchanged(db, number, version)
    provider.unavailable = False
    with pytest.raises(DomainError, match="still waiting"):
        credit_order(db, provider, admin, number)
    from verkstad.mpay.recovery import reconcile

    reconcile(db, provider, admin)
    credit = credit_order(db, provider, admin, number)
    assert credit.refund_minor == 381200 and len(provider.refund_keys) == 1
    assert [p.refunded for p in provider.payments.values()] == [381200]


def test_crash_after_the_refund_never_refunds_twice(any_db, admin, provider):
    number = paid_by_mobile(any_db, admin, provider)
    post_order(any_db, admin, number)
    failpoints.arm("credit.after_refund")
    try:
        with pytest.raises(failpoints.SimulatedCrash):
            credit_order(any_db, provider, admin, number)
    finally:
        failpoints.disarm_all()
    assert service.get_order(any_db, number).status is OrderStatus.POSTED
    credit = credit_order(any_db, provider, admin, number)
    assert credit.refund_minor == 381200
    assert len(provider.refund_keys) == 1
    assert service.get_order(any_db, number).status is OrderStatus.CREDITED


def test_credit_without_refund_leaves_the_provider_alone(db, admin, provider):
    number = paid_by_mobile(db, admin, provider)
    post_order(db, admin, number)
    credit = credit_order(db, provider, admin, number, refund=False, reopen=False)
    assert (credit.refund_minor, credit.copy_order_number) == (0, None)
    assert provider.refund_keys == []
    assert service.get_order(db, number).copied_to is None


def test_partial_credits_add_up_to_the_invoice(db, admin, provider):
    number = paid_by_mobile(db, admin, provider)
    post_order(db, admin, number)
    parts, labour = (line.id for line in service.get_order(db, number).lines)
    first = credit_order(db, provider, admin, number, [parts])
    assert first.total_minor == 149900 and first.refund_minor == 149900  # 1 199,20 + 25 %
    assert booked(db, "credit")[0] == [("1931", -149900), ("3051", 119920), ("2611", 29980)]
    order = service.get_order(db, number)
    assert order.status is OrderStatus.POSTED and order.copied_to is None
    with pytest.raises(DomainError, match="already credited"):
        credit_order(db, provider, admin, number, [parts])
    rest = credit_order(db, provider, admin, number)
    assert rest.total_minor == 381200 - 149900 and rest.line_ids == (labour,)
    assert booked(db, "credit")[1] == [
        ("1931", -231300),
        ("3041", 185000),
        ("2611", 46250),
        ("3740", 50),
    ]
    assert nets_to_zero(db)
    assert [p.refunded for p in provider.payments.values()] == [381200]
    copy = service.get_order(db, rest.copy_order_number)
    assert [x.description for x in copy.lines] == ["Arbete"]


def test_what_cannot_be_credited(db, admin, provider):
    number = klart(db, admin)
    with pytest.raises(DomainError, match="not possible for an order in status KLART"):
        credit_order(db, provider, admin, number)
    post_order(db, admin, number)
    with pytest.raises(NotFoundError):
        credit_order(db, provider, admin, number, [999])
    credit_order(db, provider, admin, number)
    with pytest.raises(DomainError, match="KREDITERAD"):
        credit_order(db, provider, admin, number)
