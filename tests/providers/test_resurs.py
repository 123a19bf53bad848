"""The Resurs Bank adapter against the sandbox over real HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from verkstad.config import Settings
from verkstad.money import Money
from verkstad.mpay.providers.base import (
    CallbackRejected,
    PaymentLine,
    PaymentRequest,
    ProviderRefused,
    ProviderUnavailable,
)
from verkstad.mpay.providers.resurs import ResursProvider
from verkstad.mpay.status import PaymentState as P
from verkstad.sandbox.core import SandboxError
from verkstad.sandbox.testing import RunningSandbox, WebhookReceiver

CUSTOMER = "+46701234567"
LINES = (
    PaymentLine("Brake pads", 2000, "st", 60_000, 25, 150_000),
    PaymentLine("Labour", 1500, "h", 53_333, 25, 100_000),
)


@pytest.fixture
def resurs(settings: Settings) -> Iterator[ResursProvider]:
    provider = ResursProvider(settings)
    yield provider
    provider.close()


def request(phone: str = CUSTOMER, lines: tuple[PaymentLine, ...] = LINES) -> PaymentRequest:
    return PaymentRequest(
        idempotency_key=uuid.uuid4().hex,
        reference=f"M-{uuid.uuid4().hex[:6]}",
        amount=Money(250_000, "SEK"),
        phone=phone,
        message="Order 1042",
        lines=lines,
    )


def key() -> str:
    return uuid.uuid4().hex


def test_customer_chooses_invoice_then_capture_and_refund(
    resurs: ResursProvider, sandbox: RunningSandbox
) -> None:
    req = request()
    sent = resurs.create(req)
    assert sent.state == P.SENT and sent.link
    sms = sandbox.phone(CUSTOMER)["messages"]
    assert sms[0]["link"] == sent.link  # Resurs texted the customer the link

    sandbox.act(req.reference, "open")
    assert resurs.status(sent.provider_ref).state == P.OPENED
    sandbox.act(req.reference, "approve", "invoice")
    reserved = resurs.status(sent.provider_ref)
    assert (reserved.state, reserved.method, reserved.authorized_minor) == (
        P.RESERVED,
        "INVOICE",
        250_000,
    )

    paid = resurs.capture(sent.provider_ref, req.amount, key())
    assert (paid.state, paid.captured_minor) == (P.PAID, 250_000)
    assert paid.paid_at is not None and paid.paid_at.tzinfo is not None

    part = resurs.refund(sent.provider_ref, Money(50_000, "SEK"), key())
    assert (part.state, part.refunded_minor) == (P.PARTIALLY_REFUNDED, 50_000)
    refund_line = part.raw["order"]["actionLog"][-1]["orderLines"][0]
    assert (refund_line["vatRate"], refund_line["totalAmountIncludingVat"]) == (25, 500)
    rest = resurs.refund(sent.provider_ref, Money(200_000, "SEK"), key())
    assert (rest.state, rest.refunded_minor) == (P.REFUNDED, 250_000)


def test_refund_of_chosen_lines(resurs: ResursProvider, sandbox: RunningSandbox) -> None:
    req = request(phone="+46701299906")  # approves at once (pays in full)
    ref = resurs.create(req).provider_ref
    resurs.capture(ref, req.amount, key())
    returned = resurs.refund(ref, Money(150_000, "SEK"), key(), lines=LINES[:1])
    assert returned.refunded_minor == 150_000 and returned.method == "CARD"


def test_the_order_lines_must_add_up(resurs: ResursProvider) -> None:
    with pytest.raises(ProviderRefused, match="do not add up"):
        resurs.create(request(lines=LINES[:1]))


def test_cancel_before_signing_and_refused_after_capture(
    resurs: ResursProvider, sandbox: RunningSandbox
) -> None:
    waiting = resurs.create(request())
    cancelled = resurs.cancel(waiting.provider_ref, key())
    assert cancelled.state == P.CANCELLED
    with pytest.raises(SandboxError, match="nothing to do"):
        sandbox.act(waiting.provider_ref, "approve")

    req = request(phone="+46701299906")
    ref = resurs.create(req).provider_ref
    assert resurs.cancel(ref, key()).state == P.CANCELLED  # a reservation can be released
    req = request(phone="+46701299906")
    ref = resurs.create(req).provider_ref
    resurs.capture(ref, req.amount, key())
    with pytest.raises(ProviderRefused, match="CANCEL is not allowed"):
        resurs.cancel(ref, key())


def test_capture_before_authorisation_is_refused(resurs: ResursProvider) -> None:
    req = request()
    ref = resurs.create(req).provider_ref
    with pytest.raises(ProviderRefused, match="CAPTURE is not allowed"):
        resurs.capture(ref, req.amount, key())


def test_declined_rejected_expired_and_invalid_number(
    resurs: ResursProvider, sandbox: RunningSandbox
) -> None:
    declined = resurs.status(resurs.create(request(phone="+46701299903")).provider_ref)
    assert declined.state == P.DECLINED and declined.reason == "The customer declined the payment."
    denied = resurs.status(resurs.create(request(phone="+46701299905")).provider_ref)
    assert denied.state == P.DECLINED and "credit" in (denied.reason or "")

    waiting = resurs.create(request())
    sandbox.advance(hours=24)
    expired = resurs.status(waiting.provider_ref)
    assert (expired.state, expired.reason) == (P.EXPIRED, "The customer did not answer in time.")

    with pytest.raises(ProviderRefused, match="mobilePhone"):
        resurs.create(request(phone="+46701299902"))


def test_create_looks_up_first_so_a_retry_is_one_payment(
    resurs: ResursProvider, sandbox: RunningSandbox
) -> None:
    req = request()
    payments = sandbox.sandbox.store.payments_of
    sandbox.fault("drop", provider="resurs", path="/search$", remaining=1)
    with pytest.raises(ProviderUnavailable):
        resurs.create(req)  # the search was lost: nothing was created
    assert payments("resurs") == []
    sandbox.fault("drop", provider="resurs", path="/v2/payments$", method="POST", remaining=1)
    with pytest.raises(ProviderUnavailable):
        resurs.create(req)  # created, but the answer was lost
    again = resurs.create(req)  # finds it instead of creating a second one
    assert [p.id for p in payments("resurs")] == [again.provider_ref]


def test_capture_retry_after_lost_reply_captures_once(
    resurs: ResursProvider, sandbox: RunningSandbox
) -> None:
    req = request(phone="+46701299906")
    ref = resurs.create(req).provider_ref
    capture_key = key()
    sandbox.fault("malformed", provider="resurs", path="/capture", remaining=1)
    with pytest.raises(ProviderUnavailable, match="could not be read"):
        resurs.capture(ref, req.amount, capture_key)
    assert resurs.capture(ref, req.amount, capture_key).captured_minor == 250_000
    captures = [a for a in resurs.status(ref).raw["order"]["actionLog"] if a["type"] == "CAPTURE"]
    assert len(captures) == 1


def test_callbacks_are_unsigned_and_name_the_payment(
    settings: Settings, sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    resurs = ResursProvider(settings, callback_url=receiver.url + "/resurs")
    req = request(phone="+46701299906")
    ref = resurs.create(req).provider_ref
    sandbox.deliver_webhooks()
    (callback,) = receiver.received
    event = resurs.verify_callback(
        callback.path, callback.headers, callback.body, datetime.now(UTC)
    )
    assert (event.provider_ref, event.name) == (ref, "AUTHORIZED")
    with pytest.raises(CallbackRejected):
        resurs.verify_callback(
            "/resurs", {}, json.dumps({"paymentId": "x"}).encode(), datetime.now(UTC)
        )
    resurs.close()
