"""Exactly once: a crash at every commit point, a dropped reply or a 500, then reconcile —
one payment at the provider for each intended one, the order in the right state."""

from __future__ import annotations

import pytest

from tests.mpay.conftest import Shop
from verkstad import failpoints
from verkstad.errors import DomainError
from verkstad.failpoints import SimulatedCrash
from verkstad.mpay import service as mpay
from verkstad.mpay.payments import payments_of_order
from verkstad.mpay.status import PaymentState as P
from verkstad.orders import service
from verkstad.orders.status import OrderStatus

CREATE_METHOD = {"swish": "PUT"}  # Swish creates with PUT to the instruction's UUID


@pytest.fixture(autouse=True)
def _disarm():
    yield
    failpoints.disarm_all()


def at_provider(sandbox, provider: str) -> int:
    return len(sandbox.sandbox.store.payments_of(provider))


def crash_at(point: str, call) -> None:  # type: ignore[no-untyped-def]
    failpoints.arm(point)
    with pytest.raises(SimulatedCrash):
        call()
    failpoints.disarm_all()


@pytest.mark.parametrize("point", ["send.after_commit", "send.after_provider"])
def test_crash_while_sending_then_reconcile(shop: Shop, sandbox, point: str):
    order = shop.order()
    crash_at(point, lambda: mpay.send(shop.db, shop.providers, shop.actor, order))
    # What the restart finds: the order locked with a request that is still being sent.
    assert service.get_order(shop.db, order).status == OrderStatus.MPAY
    [view] = payments_of_order(shop.db, order)
    assert view.state == P.CREATING
    assert at_provider(sandbox, shop.provider) == (0 if point == "send.after_commit" else 1)
    report = mpay.reconcile(shop.db, shop.providers)
    assert report.errors == []
    [view] = payments_of_order(shop.db, order)
    assert view.state == P.SENT
    assert at_provider(sandbox, shop.provider) == 1
    mpay.reconcile(shop.db, shop.providers)  # again: nothing more happens
    assert at_provider(sandbox, shop.provider) == 1


@pytest.mark.parametrize("fault", ["drop", "error", "malformed"])
def test_lost_or_garbled_reply_then_reconcile(shop: Shop, sandbox, fault: str):
    order = shop.order()
    method = CREATE_METHOD.get(shop.provider, "POST")
    sandbox.fault(fault, provider=shop.provider, method=method, remaining=1)
    if shop.provider == "swish" and fault == "malformed":
        # Swish answers a create with 201 and a Location header, no body: nothing to garble.
        assert mpay.send(shop.db, shop.providers, shop.actor, order).state == P.SENT
    else:
        with pytest.raises(DomainError, match="did not answer"):
            mpay.send(shop.db, shop.providers, shop.actor, order)
        locked = service.get_order(shop.db, order).status == OrderStatus.MPAY
        assert locked  # kept as it is, never sent again blindly
        mpay.reconcile(shop.db, shop.providers)
    [view] = payments_of_order(shop.db, order)
    assert view.state == P.SENT
    assert at_provider(sandbox, shop.provider) == 1


def test_crash_after_cancel_commit_then_reconcile(shop: Shop, sandbox):
    order = shop.order()
    mpay.send(shop.db, shop.providers, shop.actor, order)
    crash_at("cancel.after_commit", lambda: mpay.cancel(shop.db, shop.providers, shop.actor, order))
    assert service.get_order(shop.db, order).status == OrderStatus.MPAY  # not open until confirmed
    mpay.reconcile(shop.db, shop.providers)
    [view] = payments_of_order(shop.db, order)
    assert view.state == P.CANCELLED
    assert service.get_order(shop.db, order).status == OrderStatus.DONE


def test_crash_after_refund_call_then_reconcile_refunds_once(shop: Shop, sandbox):
    order = shop.order()
    view = mpay.send(shop.db, shop.providers, shop.actor, order)
    sandbox.act(view.reference, "approve")
    if mpay.check(shop.db, shop.providers, shop.actor, order).state == P.RESERVED:
        mpay.capture(shop.db, shop.providers, shop.actor, order)
    crash_at(
        "refund.after_provider",
        lambda: mpay.refund(shop.db, shop.providers, shop.actor, view.id, "100"),
    )
    mpay.reconcile(shop.db, shop.providers)
    [after] = payments_of_order(shop.db, order)
    assert after.refunded_minor == 10_000  # the lost reply was finished, not refunded twice
    assert after.state == P.PARTIALLY_REFUNDED


def test_two_terminals_sending_at_once_make_one_request(shop: Shop, sandbox):
    from concurrent.futures import ThreadPoolExecutor

    order = shop.order()
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(
            pool.map(
                lambda _i: _try(lambda: mpay.send(shop.db, shop.providers, shop.actor, order)),
                range(2),
            )
        )
    assert sorted(o.split(":")[0] for o in outcomes) == ["error", "ok"]
    assert any("already sent by admin" in o for o in outcomes)
    assert len(payments_of_order(shop.db, order)) == 1 and at_provider(sandbox, shop.provider) == 1


def _try(call) -> str:  # type: ignore[no-untyped-def]
    try:
        call()
    except DomainError as e:
        return f"error:{e}"
    return "ok"


def test_a_reservation_not_ended_in_the_window_is_captured(shop: Shop, sandbox):
    from datetime import timedelta

    from freezegun import freeze_time

    from verkstad.clock import now

    order = shop.order()
    view = mpay.send(shop.db, shop.providers, shop.actor, order)
    sandbox.act(view.reference, "approve")
    if mpay.check(shop.db, shop.providers, shop.actor, order).state != P.RESERVED:
        return  # Swish and Stripe take the money at once: nothing to capture
    window = timedelta(minutes=15)
    assert mpay.capture_due(shop.db, shop.providers, window) == []  # staff still have time
    with freeze_time(now() + window + timedelta(seconds=1)):
        [captured] = mpay.capture_due(shop.db, shop.providers, window)
    assert captured.state == P.PAID
    assert service.get_order(shop.db, order).payment_received
