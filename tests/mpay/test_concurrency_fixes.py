"""Bugs the PostgreSQL race (tests/reliability/test_race_pg.py) found, each replayed in order.

The race finds them by chance; these tests make the same interleaving happen on
purpose (a failpoint stands for the other terminal being half-way).
"""

from __future__ import annotations

import json

import pytest
from sqlmodel import col, select

from tests.mpay.conftest import Shop
from verkstad import failpoints
from verkstad.audit import AuditEvent
from verkstad.errors import DomainError
from verkstad.failpoints import SimulatedCrash
from verkstad.ledger.posting import post_order
from verkstad.mpay import recovery
from verkstad.mpay import requests as payment_requests
from verkstad.mpay import rows as mpay_rows
from verkstad.mpay import service as mpay
from verkstad.mpay.models import PaymentOperation, PaymentRequest
from verkstad.mpay.status import PaymentState as P
from verkstad.orders import service
from verkstad.orders.status import OrderStatus

pytestmark = pytest.mark.parametrize("shop", ["swish"], indirect=True)


@pytest.fixture(autouse=True)
def _disarmed():
    yield
    failpoints.disarm_all()


def paid(shop: Shop, sandbox) -> tuple[int, int]:
    """An order sent by payment SMS and paid: (order number, request id)."""
    order = shop.order()
    view = mpay.send(shop.db, shop.providers, shop.actor, order)
    sandbox.act(view.reference, "approve")
    assert mpay.check(shop.db, shop.providers, shop.actor, order).state == P.PAID
    return order, view.id


def operations(shop: Shop, kind: str) -> list[PaymentOperation]:
    with shop.db.read() as s:
        query = select(PaymentOperation).where(PaymentOperation.kind == kind)
        return list(s.exec(query.order_by(col(PaymentOperation.id))))


def test_a_default_reference_another_terminal_took_meanwhile_becomes_the_next_one(
    shop: Shop, monkeypatch
):
    first = mpay.send(shop.db, shop.providers, shop.actor, shop.order(phone="+46701200001"))
    chosen = iter([first.reference])  # the other terminal committed it after we chose it
    real = payment_requests._free_default_reference  # patched where used, not on the facade
    monkeypatch.setattr(
        payment_requests, "_free_default_reference", lambda s: next(chosen, None) or real(s)
    )
    second = mpay.send(shop.db, shop.providers, shop.actor, shop.order(phone="+46701200002"))
    assert second.reference != first.reference and second.state == P.SENT


def test_posting_waits_while_the_payment_is_being_cancelled_and_refunded(shop: Shop, sandbox):
    order, _request = paid(shop, sandbox)
    failpoints.arm("cancel.after_commit")  # another terminal is cancelling right now
    with pytest.raises(SimulatedCrash):
        mpay.cancel(shop.db, shop.providers, shop.actor, order)
    failpoints.disarm_all()
    with pytest.raises(DomainError, match="being cancelled"):
        post_order(shop.db, shop.actor, order)
    recovery.reconcile(shop.db, shop.providers)  # the cancel finishes: refunded, KLART
    after = service.get_order(shop.db, order)
    assert after.status == OrderStatus.DONE and not after.payment_received


def test_a_cancel_pressed_twice_is_one_operation(shop: Shop, sandbox):
    order, _request = paid(shop, sandbox)
    failpoints.arm("cancel.after_commit")
    with pytest.raises(SimulatedCrash):
        mpay.cancel(shop.db, shop.providers, shop.actor, order)
    failpoints.disarm_all()
    mpay.cancel(shop.db, shop.providers, shop.actor, order)
    assert len(operations(shop, "cancel")) == 1
    assert [op.state for op in operations(shop, "refund")] == ["DONE"]


def test_a_refund_counts_the_refunds_under_way(shop: Shop, sandbox):
    order, request = paid(shop, sandbox)
    total = service.get_order(shop.db, order).totals.payable
    failpoints.arm("refund.after_commit")  # a return of 10 kr, its provider call not done
    with pytest.raises(SimulatedCrash):
        mpay.refund(shop.db, shop.providers, shop.actor, request, "10")
    failpoints.disarm_all()
    view = mpay.refund(shop.db, shop.providers, shop.actor, request)  # "the rest"
    assert view.refunded_minor == total - 1000
    recovery.reconcile(shop.db, shop.providers)
    with shop.db.read() as s:
        req = s.get(PaymentRequest, request)
        assert req is not None and (req.state, req.refunded_minor) == (P.REFUNDED, total)
    assert [op.state for op in operations(shop, "refund")] == ["DONE", "DONE"]


def test_an_older_answer_from_the_provider_never_takes_a_refund_back(shop: Shop, sandbox):
    _order, request = paid(shop, sandbox)
    with shop.db.read() as s:
        req = s.get(PaymentRequest, request)
        assert req is not None and req.provider_ref is not None
        ref = req.provider_ref
    answered_before = shop.providers("swish").status(ref)  # PAID, a terminal's check
    mpay.refund(shop.db, shop.providers, shop.actor, request)  # another's refund lands first
    with shop.db.session() as s:  # then the check's answer is applied
        mpay.apply_status(s, shop.actor, mpay_rows._request_for_update(s, request), answered_before)
    with shop.db.read() as s:
        req = s.get(PaymentRequest, request)
        assert req is not None and req.state == P.REFUNDED and req.refunded_minor > 0
    assert [op.kind for op in operations(shop, "refund")] == ["refund"]  # nothing given back


def test_a_refused_create_is_in_the_audit_log(shop: Shop):
    order = shop.order(phone="+46701299901")  # not registered with Swish: refused at create
    with pytest.raises(DomainError):
        mpay.send(shop.db, shop.providers, shop.actor, order)
    with shop.db.read() as s:
        req = s.exec(select(PaymentRequest)).one()
        events = s.exec(
            select(AuditEvent).where(
                AuditEvent.entity == "payment", AuditEvent.entity_id == req.reference
            )
        ).all()
    assert req.state == P.FAILED
    assert [(e.action, e.before, e.after) for e in events][-1] == (
        "refused",
        json.dumps("CREATING"),
        json.dumps("FAILED"),
    )
    assert service.get_order(shop.db, order).status == OrderStatus.DONE
