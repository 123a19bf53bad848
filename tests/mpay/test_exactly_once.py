"""Exactly once: two terminals sending at once, and the capture window.

Crashes at every commit point and every provider fault (dropped reply, 500, malformed…)
followed by reconcile are in the reliability suite: tests/reliability/test_crash_matrix.py
and tests/reliability/test_provider_faults.py (``pytest -m reliability``)."""

from __future__ import annotations

from tests.mpay.conftest import Shop
from verkstad.errors import DomainError
from verkstad.mpay import recovery
from verkstad.mpay import service as mpay
from verkstad.mpay.payments import payments_of_order
from verkstad.mpay.status import PaymentState as P
from verkstad.orders import service


def at_provider(sandbox, provider: str) -> int:
    return len(sandbox.sandbox.store.payments_of(provider))


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
    assert recovery.capture_due(shop.db, shop.providers, window) == []  # staff still have time
    with freeze_time(now() + window + timedelta(seconds=1)):
        [captured] = recovery.capture_due(shop.db, shop.providers, window)
    assert captured.state == P.PAID
    assert service.get_order(shop.db, order).payment_received
