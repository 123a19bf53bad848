"""Provider callbacks (``verkstad callbacks serve``) from the sandbox, over real HTTP.

verkstad's callback app runs under uvicorn on a free loopback port; the sandbox's
webhooks (Vipps, Stripe), Swish's callbackUrl and Resurs' callback URLs point at
it. Nothing here polls: the payment moves only because a callback arrived.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from tests.mpay.conftest import Shop, phone_for
from verkstad.config import Settings
from verkstad.money import Money
from verkstad.mpay import service as mpay
from verkstad.mpay.gateway import Providers
from verkstad.mpay.models import PaymentRequest
from verkstad.mpay.providers.base import PaymentRequest as ProviderRequest
from verkstad.mpay.status import PaymentState as P
from verkstad.mpay.webhooks import build_app
from verkstad.orders import service
from verkstad.orders.status import OrderStatus
from verkstad.sandbox.testing import RunningSandbox, serve_app
from verkstad.sandbox.webhooks import stripe_header, vipps_headers

RESERVES = {"vipps", "resurs"}  # approval reserves the money; staff (or the scheduler) capture


@pytest.fixture
def hooked(shop: Shop, sandbox: RunningSandbox, settings: Settings) -> Iterator[Shop]:
    """The shop with verkstad's callback receiver running and every provider calling it."""
    with serve_app(build_app(shop.db, settings)) as url:
        sandbox.webhooks(url=f"{url}/callbacks/{{provider}}")  # Vipps and Stripe
        per_request = {  # Swish and Resurs take the URL with each request
            name: getattr(settings, name).model_copy(
                update={"callback_url": f"{url}/callbacks/{name}"}
            )
            for name in ("swish", "resurs")
        }
        providers = Providers(settings.model_copy(update=per_request))
        yield replace(shop, providers=providers)
        providers.close()


def stored(shop: Shop, request_id: int) -> PaymentRequest:
    """The payment as verkstad's database has it (no provider is asked)."""
    with shop.db.read() as s:
        req = s.get(PaymentRequest, request_id)
        assert req is not None
        return req


def deliver(sandbox: RunningSandbox) -> list[int | None]:
    return [d["status"] for d in sandbox.deliver_webhooks()]


def approved(shop: Shop, sandbox: RunningSandbox) -> tuple[int, int]:
    """An order sent for payment and approved by the customer: (order, payment request id)."""
    order = shop.order()
    view = mpay.send(shop.db, shop.providers, shop.actor, order)
    sandbox.act(view.reference, "approve")
    return order, view.id


def test_a_valid_callback_moves_the_payment_and_the_order(
    hooked: Shop, sandbox: RunningSandbox
) -> None:
    order, request_id = approved(hooked, sandbox)
    assert stored(hooked, request_id).state == P.SENT  # verkstad has not heard yet
    statuses = deliver(sandbox)
    assert statuses and set(statuses) == {200}
    expected = P.RESERVED if hooked.provider in RESERVES else P.PAID
    assert stored(hooked, request_id).state == expected
    if expected == P.RESERVED:
        mpay.capture(hooked.db, hooked.providers, hooked.actor, order)
        assert set(deliver(sandbox)) <= {200}  # the capture's own notifications are harmless
    req = stored(hooked, request_id)
    result = service.get_order(hooked.db, order)
    assert req.state == P.PAID
    assert (result.payment_method, result.payment_received) == ("MOBIL", True)
    assert result.payment_received_at == req.paid_at


def pending(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    queue: list[dict[str, Any]] = sandbox.control("GET", "/_sandbox/webhooks")["queue"]
    return [w for w in queue if w["state"] == "PENDING"]


def post(hook: dict[str, Any], signed: dict[str, str]) -> httpx.Response:
    """Send a queued notification ourselves, with the headers given."""
    body = json.dumps(hook["body"]).encode()
    headers = {"content-type": "application/json", **hook["headers"], **signed}
    return httpx.post(hook["url"], content=body, headers=headers, timeout=10)


def forged(hook: dict[str, Any]) -> dict[str, str]:
    body = json.dumps(hook["body"]).encode()
    if hook["scheme"] == "vipps":
        return vipps_headers(hook["url"], body, "not-the-webhook-secret")
    if hook["scheme"] == "stripe":
        return {"stripe-signature": stripe_header(body, "whsec_not_the_secret")}
    return {"callbackIdentifier": "0" * 64}  # swish


def stale(hook: dict[str, Any], settings: Settings) -> dict[str, str]:
    """Correctly signed, ten minutes ago (both providers allow five)."""
    body = json.dumps(hook["body"]).encode()
    then = time.time() - 600
    if hook["scheme"] == "vipps":
        secret = settings.vipps.webhook_secret.get_secret_value()
        return vipps_headers(hook["url"], body, secret, formatdate(then, usegmt=True))
    secret = settings.stripe.webhook_secret.get_secret_value()
    return {"stripe-signature": stripe_header(body, secret, int(then))}


def assert_unchanged(shop: Shop, order: int, request_id: int) -> None:
    assert stored(shop, request_id).state == P.SENT
    result = service.get_order(shop.db, order)
    assert result.status == OrderStatus.MPAY and not result.payment_received


@pytest.mark.parametrize("shop", ["vipps", "stripe", "swish"], indirect=True)
def test_a_forged_callback_is_refused_and_changes_nothing(
    hooked: Shop, sandbox: RunningSandbox
) -> None:
    order, request_id = approved(hooked, sandbox)
    hooks = pending(sandbox)
    assert hooks
    for hook in hooks:
        response = post(hook, forged(hook))
        assert response.status_code == 401, response.text
    assert_unchanged(hooked, order, request_id)


@pytest.mark.parametrize("shop", ["vipps", "stripe"], indirect=True)
def test_a_stale_callback_is_refused_and_changes_nothing(
    hooked: Shop, sandbox: RunningSandbox, settings: Settings
) -> None:
    order, request_id = approved(hooked, sandbox)
    hooks = pending(sandbox)
    assert hooks
    for hook in hooks:
        response = post(hook, stale(hook, settings))
        assert response.status_code == 401 and "too old" in response.text
    assert_unchanged(hooked, order, request_id)


def outcome(shop: Shop, sandbox: RunningSandbox, **switches: bool) -> tuple[Any, ...]:
    """Pay one order with callbacks delivered as the switches say; what verkstad ends with."""
    sandbox.webhooks(**{"duplicate": False, "reorder": False, **switches})
    order, request_id = approved(shop, sandbox)
    statuses = deliver(sandbox)
    after_callbacks = stored(shop, request_id).state
    if after_callbacks == P.RESERVED:
        mpay.capture(shop.db, shop.providers, shop.actor, order)
        statuses += deliver(sandbox)
    assert set(statuses) == {200}
    req = stored(shop, request_id)
    result = service.get_order(shop.db, order)
    return (
        after_callbacks,
        req.state,
        req.captured_minor,
        req.refunded_minor,
        result.status,
        result.payment_method,
        result.payment_received,
        result.payment_received_at == req.paid_at,
    )


@pytest.mark.parametrize(
    "switches",
    [{"duplicate": True}, {"reorder": True}, {"duplicate": True, "reorder": True}],
    ids=["duplicated", "reordered", "both"],
)
def test_duplicated_and_reordered_deliveries_end_like_one_clean_delivery(
    hooked: Shop, sandbox: RunningSandbox, switches: dict[str, bool]
) -> None:
    clean = outcome(hooked, sandbox)
    assert clean[1] == P.PAID
    assert outcome(hooked, sandbox, **switches) == clean


def test_a_callback_for_a_payment_verkstad_does_not_know_gets_503(
    hooked: Shop, sandbox: RunningSandbox
) -> None:
    """A payment made at the provider past verkstad (or before its row is committed)."""
    currency = "NOK" if hooked.provider == "vipps" else "SEK"
    request = ProviderRequest(
        uuid.uuid4().hex, "M-404", Money(50_000, currency), phone=phone_for(hooked.provider)
    )
    ref = hooked.providers(hooked.provider).create(request).provider_ref
    sandbox.act(ref, "approve")
    statuses = deliver(sandbox)
    assert statuses and set(statuses) == {503}
    assert pending(sandbox), "the provider is asked to try again later"


@pytest.mark.parametrize("shop", ["stripe"], indirect=True)
def test_a_callback_whose_verification_cannot_reach_the_provider_gets_503(
    hooked: Shop, sandbox: RunningSandbox
) -> None:
    """A declined card's event names only the PaymentIntent: the session is looked up."""
    order = hooked.order()
    view = mpay.send(hooked.db, hooked.providers, hooked.actor, order)
    sandbox.act(view.reference, "decline")
    sandbox.fault("error", provider="stripe", method="GET", path="^/v1/checkout/sessions$")
    assert set(deliver(sandbox)) == {503}  # retried later, not an internal error
    sandbox.control("DELETE", "/_sandbox/faults")
    sandbox.advance(seconds=11)  # the sandbox's first retry is due after 10 s
    assert set(deliver(sandbox)) == {200}
    req = stored(hooked, view.id)
    assert (req.state, req.failed_attempts) == (P.IN_PROGRESS, 1)
