"""Webhook switches (drop, duplicate, delay, reorder) and the providers' retry rules."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from verkstad.config import Settings
from verkstad.money import Money
from verkstad.mpay.providers.base import PaymentRequest
from verkstad.mpay.providers.vipps import VippsProvider
from verkstad.sandbox.testing import RunningSandbox, WebhookReceiver


@pytest.fixture
def vipps(settings: Settings) -> Iterator[VippsProvider]:
    provider = VippsProvider(settings)
    yield provider
    provider.close()


def paid(vipps: VippsProvider, sandbox: RunningSandbox) -> str:
    """A Vipps payment created, authorized and captured: three events."""
    req = PaymentRequest(uuid.uuid4().hex, "M-1", Money(10_000, "NOK"), phone="+4791234567")
    ref = vipps.create(req).provider_ref
    sandbox.act(ref, "approve")
    vipps.capture(ref, req.amount, uuid.uuid4().hex)
    return ref


def names(receiver: WebhookReceiver) -> list[str]:
    return [json.loads(r.body)["name"] for r in receiver.received]


def test_delivered_in_order_and_only_when_asked(
    vipps: VippsProvider, sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    sandbox.webhooks(url=receiver.url + "/{provider}")
    paid(vipps, sandbox)
    assert receiver.received == []
    assert [d["ok"] for d in sandbox.deliver_webhooks()] == [True, True, True]
    assert names(receiver) == ["CREATED", "AUTHORIZED", "CAPTURED"]
    assert {r.path for r in receiver.received} == {"/vipps"}
    assert sandbox.deliver_webhooks() == []


def test_duplicate_delay_reorder_and_drop(
    vipps: VippsProvider, sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    sandbox.webhooks(url=receiver.url, duplicate=True, delay_seconds=60, reorder=True)
    paid(vipps, sandbox)
    assert sandbox.deliver_webhooks() == []  # not due yet
    sandbox.advance(seconds=61)
    sandbox.deliver_webhooks()
    assert names(receiver) == [
        "CAPTURED",
        "CAPTURED",
        "AUTHORIZED",
        "AUTHORIZED",
        "CREATED",
        "CREATED",
    ]

    receiver.received.clear()
    sandbox.webhooks(drop=True, duplicate=False, delay_seconds=0, reorder=False)
    paid(vipps, sandbox)
    assert sandbox.deliver_webhooks() == []
    queue = sandbox.control("GET", "/_sandbox/webhooks")["queue"]
    assert {w["state"] for w in queue[:3]} == {"DROPPED"}


def test_vipps_retries_in_order_per_payment(
    vipps: VippsProvider, sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    sandbox.webhooks(url=receiver.url)
    receiver.status = 500
    paid(vipps, sandbox)
    report = sandbox.deliver_webhooks()
    assert [d["status"] for d in report] == [500]  # the rest waits behind the failed one
    receiver.status = 200
    assert sandbox.deliver_webhooks() == []  # backing off
    sandbox.advance(seconds=11)
    sandbox.deliver_webhooks()
    assert names(receiver) == ["CREATED", "CREATED", "AUTHORIZED", "CAPTURED"]


def test_swish_gives_up_after_ten_tries(
    settings: Settings, sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    from verkstad.mpay.providers.swish import SwishProvider

    swish_settings = settings.swish.model_copy(update={"callback_url": receiver.url + "/swish"})
    swish = SwishProvider(settings.model_copy(update={"swish": swish_settings}))
    req = PaymentRequest(uuid.uuid4().hex, "M-2", Money(10_000, "SEK"), phone="+46701299906")
    swish.create(req)
    swish.close()
    receiver.status = 503
    for _ in range(10):
        sandbox.deliver_webhooks()
        sandbox.advance(hours=1)
    assert len(receiver.received) == 10
    assert sandbox.deliver_webhooks() == []
    assert sandbox.control("GET", "/_sandbox/webhooks")["queue"][0]["state"] == "FAILED"
