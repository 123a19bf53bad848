"""The Stripe adapter against the sandbox over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from verkstad.config import Settings
from verkstad.money import Money
from verkstad.mpay.providers.base import (
    CallbackRejected,
    PaymentRequest,
    ProviderRefused,
    ProviderUnavailable,
)
from verkstad.mpay.providers.sms import SmsGateway
from verkstad.mpay.providers.stripe import StripeProvider
from verkstad.mpay.status import PaymentState as P
from verkstad.sandbox.core import SandboxError
from verkstad.sandbox.testing import RunningSandbox, WebhookReceiver


@pytest.fixture
def stripe(settings: Settings) -> Iterator[StripeProvider]:
    provider = StripeProvider(settings)
    yield provider
    provider.close()


def request(**kw: object) -> PaymentRequest:
    return PaymentRequest(
        idempotency_key=uuid.uuid4().hex,
        reference=f"M-{uuid.uuid4().hex[:6]}",
        amount=Money(249_900, "SEK"),
        email="kund@example.se",
        message="Order 1042: brakes",
        **kw,  # type: ignore[arg-type]
    )


def key() -> str:
    return uuid.uuid4().hex


def test_link_paid_by_card_then_refunded(stripe: StripeProvider, sandbox: RunningSandbox) -> None:
    req = request()
    sent = stripe.create(req)
    assert sent.state == P.SENT and sent.link and sent.provider_ref in sent.link

    sandbox.act(req.reference, "open")
    assert stripe.status(sent.provider_ref).state == P.SENT  # Stripe cannot see a page view
    sandbox.act(req.reference, "start")
    assert stripe.status(sent.provider_ref).state == P.IN_PROGRESS
    sandbox.act(req.reference, "approve")
    paid = stripe.status(sent.provider_ref)
    assert (paid.state, paid.captured_minor, paid.method, paid.link) == (
        P.PAID,
        249_900,
        "CARD",
        None,
    )
    charge = paid.raw["payment_intent"]["latest_charge"]
    assert paid.paid_at == datetime.fromtimestamp(charge["created"], UTC)

    part = stripe.refund(sent.provider_ref, Money(49_900, "SEK"), key())
    assert (part.state, part.refunded_minor) == (P.PARTIALLY_REFUNDED, 49_900)
    rest = stripe.refund(sent.provider_ref, Money(200_000, "SEK"), key())
    assert (rest.state, rest.refunded_minor) == (P.REFUNDED, 249_900)
    with pytest.raises(ProviderRefused, match="already refunded"):
        stripe.refund(sent.provider_ref, Money(100, "SEK"), key())


def test_link_lifetime_is_clamped_and_expires(
    stripe: StripeProvider, sandbox: RunningSandbox
) -> None:
    sent = stripe.create(request(expires_at=datetime.now(UTC) + timedelta(days=7)))
    assert sent.raw["expires_at"] <= int((datetime.now(UTC) + timedelta(hours=24)).timestamp())
    sandbox.advance(hours=24)
    expired = stripe.status(sent.provider_ref)
    assert (expired.state, expired.link) == (P.EXPIRED, None)


def test_cancel_before_and_after_payment(stripe: StripeProvider, sandbox: RunningSandbox) -> None:
    open_link = stripe.create(request())
    assert stripe.cancel(open_link.provider_ref, key()).state == P.CANCELLED
    with pytest.raises(SandboxError, match="nothing to do"):
        sandbox.act(open_link.provider_ref, "approve")

    req = request()
    paid = stripe.create(req)
    sandbox.act(req.reference, "approve")
    with pytest.raises(ProviderRefused, match="can be expired"):
        stripe.cancel(paid.provider_ref, key())
    with pytest.raises(ProviderRefused, match="nothing to capture"):
        stripe.capture(paid.provider_ref, req.amount, key())


def test_declined_card_counts_as_a_failed_attempt(
    stripe: StripeProvider, sandbox: RunningSandbox
) -> None:
    req = request()
    sent = stripe.create(req)
    sandbox.act(req.reference, "decline")
    status = stripe.status(sent.provider_ref)
    assert (status.state, status.failed_attempts) == (P.IN_PROGRESS, 1)
    assert status.reason == "The customer's card was declined."
    sandbox.act(req.reference, "approve")
    paid = stripe.status(sent.provider_ref)
    assert (paid.state, paid.failed_attempts) == (P.PAID, 1)


def test_sms_link_to_the_second_try_number(
    stripe: StripeProvider, sandbox: RunningSandbox, settings: Settings
) -> None:
    sent = stripe.create(request())
    gateway = SmsGateway(settings)
    gateway.send("+46701299905", f"Pay here: {sent.link}", key())
    gateway.close()
    paid = stripe.status(sent.provider_ref)
    assert (paid.state, paid.failed_attempts) == (P.PAID, 1)


def test_same_create_twice_is_one_session_and_changed_params_refused(
    stripe: StripeProvider, sandbox: RunningSandbox
) -> None:
    req = request()
    assert stripe.create(req).provider_ref == stripe.create(req).provider_ref
    assert len(sandbox.sandbox.store.payments_of("stripe")) == 1
    changed = PaymentRequest(req.idempotency_key, req.reference, Money(100_000, "SEK"))
    with pytest.raises(ProviderRefused, match="same key but other details"):
        stripe.create(changed)


def test_saved_500_is_replayed_and_the_next_key_creates(
    stripe: StripeProvider, sandbox: RunningSandbox
) -> None:
    req = request()
    sandbox.fault(
        "error", provider="stripe", path="/v1/checkout/sessions", method="POST", remaining=1
    )
    with pytest.raises(ProviderUnavailable, match="internal error"):
        stripe.create(req)
    assert stripe.lookup(req) is None
    # Stripe now answers this key with the saved 500; the adapter moves to a derived key.
    retried = stripe.create(req)
    assert retried.state == P.SENT
    found = stripe.lookup(req)
    assert found is not None and found.provider_ref == retried.provider_ref
    assert len(sandbox.sandbox.store.payments_of("stripe")) == 1


@pytest.mark.parametrize("kind", ["drop", "malformed"])
def test_lost_reply_then_lookup_finds_the_one_session(
    stripe: StripeProvider, sandbox: RunningSandbox, kind: str
) -> None:
    req = request()
    sandbox.fault(kind, provider="stripe", method="POST", remaining=1)
    with pytest.raises(ProviderUnavailable):
        stripe.create(req)
    found = stripe.lookup(req)
    assert found is not None and found.state == P.SENT
    assert stripe.create(req).provider_ref == found.provider_ref
    assert len(sandbox.sandbox.store.payments_of("stripe")) == 1


def test_rate_limit_is_an_unknown_outcome(stripe: StripeProvider, sandbox: RunningSandbox) -> None:
    sent = stripe.create(request())
    sandbox.fault("rate_limit", provider="stripe", remaining=1)
    with pytest.raises(ProviderUnavailable, match="too many requests"):
        stripe.status(sent.provider_ref)
    assert stripe.status(sent.provider_ref).state == P.SENT


def test_webhook_signature_verified_forged_and_stale_refused(
    stripe: StripeProvider, sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    sandbox.webhooks(url=receiver.url + "/stripe")
    req = request()
    sent = stripe.create(req)
    sandbox.act(req.reference, "approve")
    stripe.refund(sent.provider_ref, Money(1_000, "SEK"), key())
    sandbox.deliver_webhooks()
    completed, refunded = receiver.received
    now = datetime.now(UTC)
    event = stripe.verify_callback(completed.path, completed.headers, completed.body, now)
    assert (event.provider_ref, event.name) == (sent.provider_ref, "checkout.session.completed")
    charge_event = stripe.verify_callback(refunded.path, refunded.headers, refunded.body, now)
    assert (charge_event.provider_ref, charge_event.name) == (sent.provider_ref, "charge.refunded")

    with pytest.raises(CallbackRejected, match="signature"):
        stripe.verify_callback(completed.path, completed.headers, completed.body + b" ", now)
    with pytest.raises(CallbackRejected, match="too old"):
        stripe.verify_callback(
            completed.path, completed.headers, completed.body, now + timedelta(seconds=301)
        )
    with pytest.raises(CallbackRejected, match="not signed"):
        stripe.verify_callback(completed.path, {}, completed.body, now)
