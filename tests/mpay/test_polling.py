"""Polling asks every live request; only the answers that change something are written."""

from __future__ import annotations

from sqlmodel import func, select

from tests.mpay.conftest import Shop, phone_for
from verkstad.clock import now
from verkstad.mpay import recovery
from verkstad.mpay import service as mpay
from verkstad.mpay.models import PaymentEvent, PaymentRequest
from verkstad.mpay.providers import http
from verkstad.mpay.status import PaymentState as P


def _requests(shop: Shop) -> dict[int, PaymentRequest]:
    with shop.db.read() as s:
        return {r.id: r for r in s.exec(select(PaymentRequest)) if r.id is not None}


def _events(shop: Shop, request_id: int) -> int:
    with shop.db.read() as s:
        query = select(func.count()).where(PaymentEvent.request_id == request_id)
        return int(s.exec(query).one())


def test_polling_writes_what_changed_and_notes_when_the_rest_was_heard_of(shop: Shop, sandbox):
    views = [
        mpay.send(shop.db, shop.providers, shop.actor, shop.order(phone_for(shop.provider, s)))
        for s in ("00011", "00012", "00013")
    ]
    sandbox.act(views[0].reference, "approve")
    before = _requests(shop)
    events = {v.id: _events(shop, v.id) for v in views}
    started = now()

    answered = recovery.poll(shop.db, shop.providers, force=True)

    assert sorted(answered) == sorted(v.id for v in views)
    after = _requests(shop)
    approved = after[views[0].id]
    assert approved.state in (P.PAID, P.RESERVED)
    assert _events(shop, views[0].id) > events[views[0].id]
    for view in views[1:]:  # still waiting: unchanged but for when it was last heard of
        assert after[view.id].state == before[view.id].state == P.SENT
        assert _events(shop, view.id) == events[view.id]
        assert after[view.id].updated_at >= started > before[view.id].updated_at


def test_adapters_keep_a_connection_per_request_polled_at_once():
    assert http.POOL_SIZE >= recovery.POLL_CONCURRENCY
