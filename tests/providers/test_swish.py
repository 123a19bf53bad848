"""The Swish adapter against the sandbox over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from verkstad.config import Settings
from verkstad.money import Money
from verkstad.mpay.providers.base import (
    CallbackRejected,
    PaymentRequest,
    ProviderRefused,
    ProviderUnavailable,
)
from verkstad.mpay.providers.swish import SwishProvider, instruction_id
from verkstad.mpay.status import PaymentState as P
from verkstad.sandbox.testing import RunningSandbox, WebhookReceiver

CUSTOMER = "+46701234567"


@pytest.fixture
def swish(settings: Settings, receiver: WebhookReceiver) -> Iterator[SwishProvider]:
    callback = settings.swish.model_copy(update={"callback_url": receiver.url + "/swish"})
    provider = SwishProvider(settings.model_copy(update={"swish": callback}))
    yield provider
    provider.close()


def request(phone: str = CUSTOMER, message: str = "Service ABC123") -> PaymentRequest:
    return PaymentRequest(
        idempotency_key=uuid.uuid4().hex,
        reference=f"M-{uuid.uuid4().hex[:6]}",
        amount=Money(99_950, "SEK"),
        phone=phone,
        message=message,
    )


def key() -> str:
    return uuid.uuid4().hex


def test_request_paid_then_refunded_in_parts(swish: SwishProvider, sandbox: RunningSandbox) -> None:
    req = request()
    sent = swish.create(req)
    assert (sent.provider_ref, sent.state) == (instruction_id(req.idempotency_key), P.SENT)
    sandbox.act(req.reference, "approve")

    paid = swish.status(sent.provider_ref)
    assert (paid.state, paid.captured_minor, paid.method) == (P.PAID, 99_950, "SWISH")
    assert paid.paid_at is not None and paid.paid_at.tzinfo is not None

    refund_key = key()
    part = swish.refund(sent.provider_ref, Money(10_000, "SEK"), refund_key)
    assert (part.state, part.refunded_minor) == (P.PARTIALLY_REFUNDED, 10_000)
    again = swish.refund(sent.provider_ref, Money(10_000, "SEK"), refund_key)
    assert again.refunded_minor == 10_000  # the same refund, not a second one
    rest = swish.refund(sent.provider_ref, Money(89_950, "SEK"), key())
    assert (rest.state, rest.refunded_minor) == (P.REFUNDED, 99_950)
    with pytest.raises(ProviderRefused, match="more than was paid") as refused:
        swish.refund(sent.provider_ref, Money(100, "SEK"), key())
    assert refused.value.code == "RF08"


def test_cancel_only_while_created(swish: SwishProvider, sandbox: RunningSandbox) -> None:
    open_request = swish.create(request())
    assert swish.cancel(open_request.provider_ref, key()).state == P.CANCELLED

    req = request(phone="+46701299906")  # approves at once
    paid = swish.create(req)
    assert swish.status(paid.provider_ref).state == P.PAID
    with pytest.raises(ProviderRefused, match="can no longer be cancelled") as refused:
        swish.cancel(paid.provider_ref, key())
    assert refused.value.code == "RP07"


@pytest.mark.parametrize(
    ("phone", "code", "message"),
    [
        ("+46701299901", "ACMT03", "not connected to Swish"),
        ("+46701299902", "BE18", "not a valid Swish number"),
    ],
)
def test_number_errors(swish: SwishProvider, phone: str, code: str, message: str) -> None:
    with pytest.raises(ProviderRefused, match=message) as refused:
        swish.create(request(phone=phone))
    assert refused.value.code == code


def test_one_open_request_per_payer(swish: SwishProvider) -> None:
    swish.create(request())
    with pytest.raises(ProviderRefused, match="already has an open Swish") as refused:
        swish.create(request())
    assert refused.value.code == "RP06"


def test_declined_expired_and_simulated_errors(
    swish: SwishProvider, sandbox: RunningSandbox
) -> None:
    declined = swish.create(request(phone="+46701299903"))
    assert swish.status(declined.provider_ref).state == P.DECLINED

    waiting = swish.create(request())
    sandbox.advance(minutes=3)
    expired = swish.status(waiting.provider_ref)
    assert expired.state == P.EXPIRED and "did not answer in time" in (expired.reason or "")

    bank_says_no = swish.create(request(phone="+46701112233", message="RF07"))
    failed = swish.status(bank_says_no.provider_ref)
    assert failed.state == P.FAILED and "bank declined" in (failed.reason or "")


def test_pays_after_a_first_failed_attempt(swish: SwishProvider) -> None:
    first = swish.create(request(phone="+46701299905"))
    failed = swish.status(first.provider_ref)
    assert failed.state == P.FAILED and "insufficient funds" in (failed.reason or "")
    second = swish.create(request(phone="+46701299905"))
    assert swish.status(second.provider_ref).state == P.PAID


def test_retried_create_is_the_same_request(swish: SwishProvider, sandbox: RunningSandbox) -> None:
    req = request()
    first = swish.create(req)
    second = swish.create(req)  # Swish says RP09 (UUID taken): we read that request back
    assert first.provider_ref == second.provider_ref
    assert len(sandbox.sandbox.store.payments_of("swish")) == 1


def test_dropped_reply_then_lookup(swish: SwishProvider, sandbox: RunningSandbox) -> None:
    req = request()
    assert swish.lookup(req) is None
    sandbox.fault("drop", provider="swish", method="PUT", remaining=1)
    with pytest.raises(ProviderUnavailable, match="broke before its answer"):
        swish.create(req)
    found = swish.lookup(req)
    assert found is not None and found.state == P.SENT


def test_capture_is_refused(swish: SwishProvider) -> None:
    sent = swish.create(request())
    with pytest.raises(ProviderRefused, match="does not reserve"):
        swish.capture(sent.provider_ref, Money(99_950, "SEK"), key())


def test_callbacks_carry_our_identifier(
    swish: SwishProvider, sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    paid = swish.create(request(phone="+46701299906"))
    swish.refund(paid.provider_ref, Money(5_000, "SEK"), key())
    sandbox.deliver_webhooks()
    payment_callback, refund_callback = receiver.received
    now = datetime.now(UTC)
    for callback in (payment_callback, refund_callback):
        event = swish.verify_callback(callback.path, callback.headers, callback.body, now)
        assert event.provider_ref == paid.provider_ref
    assert (
        swish.verify_callback(
            payment_callback.path, payment_callback.headers, payment_callback.body, now
        ).name
        == "PAID"
    )

    forged = {**payment_callback.headers, "callbackidentifier": "0" * 32}
    with pytest.raises(CallbackRejected):
        swish.verify_callback(payment_callback.path, forged, payment_callback.body, now)
