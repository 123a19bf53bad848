"""The Vipps adapter against the sandbox over real HTTP."""

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
from verkstad.mpay.providers.vipps import VippsProvider
from verkstad.mpay.status import PaymentState as P
from verkstad.sandbox.core import SandboxError
from verkstad.sandbox.testing import RunningSandbox, WebhookReceiver

CUSTOMER = "+4791234567"


@pytest.fixture
def vipps(settings: Settings) -> Iterator[VippsProvider]:
    provider = VippsProvider(settings)
    yield provider
    provider.close()


def request(phone: str = CUSTOMER, minor: int = 125_000, **kw: object) -> PaymentRequest:
    return PaymentRequest(
        idempotency_key=uuid.uuid4().hex,
        reference=f"M-{uuid.uuid4().hex[:6]}",
        amount=Money(minor, "NOK"),
        phone=phone,
        message="Service and new tyres",
        **kw,  # type: ignore[arg-type]
    )


def key() -> str:
    return uuid.uuid4().hex


def test_push_reserve_capture_refund(vipps: VippsProvider, sandbox: RunningSandbox) -> None:
    req = request()
    sent = vipps.create(req)
    assert sent.state == P.SENT
    assert sandbox.phone(CUSTOMER)["messages"][0]["reference"] == req.reference
    assert vipps.status(sent.provider_ref).state == P.SENT

    sandbox.act(req.reference, "approve")  # the reference as staff see it
    reserved = vipps.status(sent.provider_ref)
    assert (reserved.state, reserved.authorized_minor, reserved.paid_at) == (
        P.RESERVED,
        125_000,
        None,
    )

    paid = vipps.capture(sent.provider_ref, req.amount, key())
    assert (paid.state, paid.captured_minor) == (P.PAID, 125_000)
    captured_event = sandbox.sandbox.store.events("vipps", sent.provider_ref)[-1]
    assert captured_event["name"] == "CAPTURED"
    assert paid.paid_at == datetime.fromisoformat(
        captured_event["timestamp"].replace("Z", "+00:00")
    )

    part = vipps.refund(sent.provider_ref, Money(25_000, "NOK"), key())
    assert (part.state, part.refunded_minor) == (P.PARTIALLY_REFUNDED, 25_000)
    done = vipps.refund(sent.provider_ref, Money(100_000, "NOK"), key())
    assert (done.state, done.refunded_minor) == (P.REFUNDED, 125_000)
    assert done.paid_at == paid.paid_at  # the CAPTURED event's time, not ours


def test_cancel_before_approval_kills_the_push(
    vipps: VippsProvider, sandbox: RunningSandbox
) -> None:
    req = request()
    ref = vipps.create(req).provider_ref
    cancelled = vipps.cancel(ref, key())
    assert cancelled.state == P.CANCELLED
    with pytest.raises(SandboxError, match="nothing to do"):
        sandbox.act(ref, "approve")


def test_cancel_a_reservation_and_refused_after_capture(
    vipps: VippsProvider, sandbox: RunningSandbox
) -> None:
    first, second = request(), request()
    for r in (first, second):
        vipps.create(r)
        sandbox.act(r.reference, "approve")
    released = vipps.cancel(vipps.lookup(first).provider_ref, key())  # type: ignore[union-attr]
    assert (released.state, released.cancelled_minor) == (P.CANCELLED, 125_000)

    ref = vipps.lookup(second).provider_ref  # type: ignore[union-attr]
    vipps.capture(ref, second.amount, key())
    with pytest.raises(ProviderRefused, match="already captured"):
        vipps.cancel(ref, key())


def test_customer_not_found_has_a_clear_message(vipps: VippsProvider) -> None:
    with pytest.raises(ProviderRefused) as refused:
        vipps.create(request(phone="+4791299901"))
    assert str(refused.value) == "Payment rejected: this number is not connected to Vipps"
    assert refused.value.code == "customer-not-found"


def test_invalid_number_and_small_amount_are_refused(vipps: VippsProvider) -> None:
    with pytest.raises(ProviderRefused, match="not valid for Vipps"):
        vipps.create(request(phone="+4791299902"))
    with pytest.raises(ProviderRefused, match="too small"):
        vipps.create(request(minor=50))


def test_declining_number_and_expiry_by_the_clock(
    vipps: VippsProvider, sandbox: RunningSandbox
) -> None:
    declined = vipps.create(request(phone="+4791299903"))
    status = vipps.status(declined.provider_ref)
    assert status.state == P.DECLINED and status.reason and "declined" in status.reason

    waiting = vipps.create(request(phone="+4791299904"))
    sandbox.advance(minutes=9)
    assert vipps.status(waiting.provider_ref).state == P.SENT
    sandbox.advance(minutes=2)
    assert vipps.status(waiting.provider_ref).state == P.EXPIRED


def test_same_create_twice_is_one_payment(vipps: VippsProvider, sandbox: RunningSandbox) -> None:
    req = request()
    assert vipps.create(req).provider_ref == vipps.create(req).provider_ref
    assert len(sandbox.sandbox.store.payments_of("vipps")) == 1


def test_changed_body_under_the_same_key_is_refused(vipps: VippsProvider) -> None:
    req = request()
    vipps.create(req)
    changed = PaymentRequest(
        req.idempotency_key, req.reference, Money(99_900, "NOK"), phone=CUSTOMER
    )
    with pytest.raises(ProviderRefused, match="same key but other details"):
        vipps.create(changed)


def test_capture_replayed_captures_once_and_conflicts_on_change(
    vipps: VippsProvider, sandbox: RunningSandbox
) -> None:
    req = request()
    ref = vipps.create(req).provider_ref
    sandbox.act(ref, "approve")
    capture_key = key()
    half = Money(60_000, "NOK")
    assert vipps.capture(ref, half, capture_key).captured_minor == 60_000
    assert vipps.capture(ref, half, capture_key).captured_minor == 60_000  # replay, no new money
    with pytest.raises(ProviderRefused, match="same key but another amount"):
        vipps.capture(ref, Money(70_000, "NOK"), capture_key)
    assert vipps.status(ref).captured_minor == 60_000


def test_illegal_transitions_are_refused(vipps: VippsProvider, sandbox: RunningSandbox) -> None:
    req = request()
    ref = vipps.create(req).provider_ref
    with pytest.raises(ProviderRefused, match="not approved"):
        vipps.capture(ref, req.amount, key())
    sandbox.act(ref, "approve")
    with pytest.raises(ProviderRefused, match="more than the reserved"):
        vipps.capture(ref, Money(200_000, "NOK"), key())
    vipps.capture(ref, req.amount, key())
    with pytest.raises(ProviderRefused, match="more than was captured"):
        vipps.refund(ref, Money(200_000, "NOK"), key())


def test_cannot_cancel_while_the_customer_is_approving(
    vipps: VippsProvider, sandbox: RunningSandbox
) -> None:
    ref = vipps.create(request()).provider_ref
    sandbox.act(ref, "start")
    with pytest.raises(ProviderRefused, match="approving the payment right now"):
        vipps.cancel(ref, key())


def test_capture_window_runs_out(vipps: VippsProvider, sandbox: RunningSandbox) -> None:
    req = request()
    ref = vipps.create(req).provider_ref
    sandbox.act(ref, "approve")
    sandbox.advance(days=181)
    assert vipps.status(ref).state == P.CANCELLED
    with pytest.raises(ProviderRefused, match="time to capture"):
        vipps.capture(ref, req.amount, key())


@pytest.mark.parametrize("kind", ["error", "rate_limit", "malformed", "drop"])
def test_faults_are_unknown_outcomes_and_lookup_finds_the_one_payment(
    vipps: VippsProvider, sandbox: RunningSandbox, kind: str
) -> None:
    req = request()
    sandbox.fault(kind, provider="vipps", path="/epayment/v1/payments", method="POST", remaining=1)
    with pytest.raises(ProviderUnavailable):
        vipps.create(req)
    found = vipps.lookup(req)
    if kind in ("malformed", "drop"):  # the work was done before the reply went wrong
        assert found is not None and found.state == P.SENT
    else:
        assert found is None
    assert vipps.create(req).provider_ref == (found or vipps.lookup(req)).provider_ref  # type: ignore[union-attr]
    assert len(sandbox.sandbox.store.payments_of("vipps")) == 1


def test_rate_limit_is_five_modifications_per_minute(
    vipps: VippsProvider, sandbox: RunningSandbox
) -> None:
    req = request()
    ref = vipps.create(req).provider_ref
    sandbox.act(ref, "approve")
    for _ in range(4):
        vipps.capture(ref, Money(100, "NOK"), key())
    with pytest.raises(ProviderUnavailable, match="too many requests"):
        vipps.capture(ref, Money(100, "NOK"), key())
    sandbox.advance(minutes=1)
    assert vipps.capture(ref, Money(100, "NOK"), key()).captured_minor == 500


def test_webhook_signature_verified_forged_and_stale_refused(
    vipps: VippsProvider, sandbox: RunningSandbox, receiver: WebhookReceiver
) -> None:
    sandbox.webhooks(url=receiver.url + "/hooks/{provider}?x=1")
    ref = vipps.create(request()).provider_ref
    sandbox.act(ref, "approve")
    sandbox.deliver_webhooks()
    created, authorized = receiver.received
    now = datetime.now(UTC)
    event = vipps.verify_callback(authorized.path, authorized.headers, authorized.body, now)
    assert (event.provider_ref, event.name) == (ref, "AUTHORIZED")
    assert authorized.path == "/hooks/vipps?x=1"

    forged = authorized.body.replace(b"AUTHORIZED", b"CAPTURED")
    with pytest.raises(CallbackRejected):
        vipps.verify_callback(authorized.path, authorized.headers, forged, now)
    wrong_key = {**authorized.headers, "authorization": created.headers["authorization"]}
    with pytest.raises(CallbackRejected):
        vipps.verify_callback(authorized.path, wrong_key, authorized.body, now)
    with pytest.raises(CallbackRejected, match="too old"):
        vipps.verify_callback(
            authorized.path, authorized.headers, authorized.body, now + timedelta(minutes=6)
        )
