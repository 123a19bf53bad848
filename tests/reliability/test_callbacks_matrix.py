"""Callbacks, for each provider: forged, tampered, unsigned and stale ones are refused and change
nothing; duplicated, reordered and replayed deliveries end exactly like one clean delivery.

verkstad's callback receiver runs on a free loopback port and every provider of the
sandbox calls it (Vipps and Stripe webhooks, Swish's callbackUrl, Resurs' callback URLs).
The attacks are posted by hand from what the sandbox queued; the deliveries come from the
sandbox's own webhook queue with its switches (duplicate, reorder).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.reliability import mpay_world
from tests.reliability.mpay_world import PROVIDERS, RESERVES, Templates, World, make_world
from verkstad.mpay import service as mpay
from verkstad.mpay.gateway import Providers
from verkstad.mpay.models import PaymentRequest
from verkstad.mpay.notify import deliver_pending
from verkstad.mpay.senders import senders
from verkstad.mpay.status import PaymentState as P
from verkstad.mpay.webhooks import build_app
from verkstad.orders.service import get_order
from verkstad.orders.status import OrderStatus
from verkstad.sandbox.testing import RunningSandbox, serve_app
from verkstad.sandbox.webhooks import stripe_header, vipps_headers

pytestmark = pytest.mark.reliability
mail_sandbox = mpay_world.mail_sandbox
world_templates = mpay_world.world_templates

AREA = "callbacks"
Hook = dict[str, Any]


@contextmanager
def hooked(sandbox: RunningSandbox, templates: Templates, provider: str) -> Iterator[World]:
    """A world whose providers all call verkstad's callback receiver."""
    with make_world(sandbox, templates, provider) as w:
        with serve_app(build_app(w.db, w.settings)) as url:
            sandbox.webhooks(url=f"{url}/callbacks/{{provider}}")  # Vipps and Stripe
            per_request = {  # Swish and Resurs take the URL with each request
                name: getattr(w.settings, name).model_copy(
                    update={"callback_url": f"{url}/callbacks/{name}"}
                )
                for name in ("swish", "resurs")
            }
            w.providers.close()
            w.settings = w.settings.model_copy(update=per_request)
            w.providers = Providers(w.settings)
            yield w


def queued(w: World, state: str = "PENDING") -> list[Hook]:
    """The sandbox's notifications as it holds them (exact bodies, secrets)."""
    hooks = [h for h in w.sandbox.sandbox.store.webhooks() if h["state"] == state]
    return sorted(hooks, key=lambda h: h["seq"])


def post(hook: Hook, headers: dict[str, str], body: bytes | None = None, url: str = "") -> int:
    data = hook["body"].encode() if body is None else body
    sent = {"content-type": "application/json", **headers}
    return httpx.post(url or hook["url"], content=data, headers=sent, timeout=10).status_code


def signed(hook: Hook, body: bytes | None = None, at: float | None = None) -> dict[str, str]:
    """The headers the provider itself would send (at ``at``, default now)."""
    data = hook["body"].encode() if body is None else body
    headers = dict(hook["headers"])
    if hook["scheme"] == "vipps":
        date = formatdate(at, usegmt=True) if at is not None else None
        headers.update(vipps_headers(hook["url"], data, hook["secret"], date))
    elif hook["scheme"] == "stripe":
        stamp = int(at) if at is not None else None
        headers["stripe-signature"] = stripe_header(data, hook["secret"], stamp)
    return headers


def without_token(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=""))


def attacks(hook: Hook) -> dict[str, tuple[dict[str, str], bytes | None, str]]:
    """Per attack: headers, body (None: the real one) and URL ("" the real one)."""
    scheme, body = hook["scheme"], hook["body"].encode()
    tampered = json.dumps({**json.loads(body), "amount": 1}).encode()
    found: dict[str, tuple[dict[str, str], bytes | None, str]] = {}
    if scheme == "vipps":
        found["forged"] = (vipps_headers(hook["url"], body, "not-the-secret"), None, "")
        found["tampered"] = (signed(hook), tampered, "")
        found["stale"] = (signed(hook, at=time.time() - 600), None, "")
        found["unsigned"] = ({}, None, "")
    elif scheme == "stripe":
        found["forged"] = ({"stripe-signature": stripe_header(body, "whsec_forged")}, None, "")
        found["tampered"] = (signed(hook), tampered, "")
        found["stale"] = (signed(hook, at=time.time() - 600), None, "")
        found["unsigned"] = ({}, None, "")
    elif scheme == "swish":
        found["forged"] = ({"callbackIdentifier": "0" * 64}, None, "")
        other = json.dumps({**json.loads(body), "id": "0" * 32}).encode()
        found["tampered"] = (signed(hook), other, "")  # another payment's id, this identifier
        found["unsigned"] = ({}, None, "")
    else:  # resurs: the URL's token is the proof
        found["forged"] = ({}, None, hook["url"].replace("token=", "token=0"))
        found["unsigned"] = ({}, None, without_token(hook["url"]))
    return found


def stored(w: World, request_id: int) -> PaymentRequest:
    with w.db.read() as s:
        req = s.get(PaymentRequest, request_id)
        assert req is not None
        return req


@pytest.mark.parametrize("provider", PROVIDERS)
def test_forged_tampered_unsigned_and_stale_callbacks_are_refused(
    provider: str,
    mail_sandbox: RunningSandbox,
    world_templates: Templates,
    figures,
) -> None:
    with hooked(mail_sandbox, world_templates, provider) as w:
        order = w.order()
        view = w.send(order)
        w.approve(view.reference)
        hooks = queued(w)
        cases = 0
        if not hooks:
            w.problems.append("the provider queued no callback")
        for hook in hooks:
            for name, (headers, body, url) in attacks(hook).items():
                status = post(hook, headers, body, url)
                cases += 1
                if status != 401:
                    w.problems.append(f"a {name} {hook['scheme']} callback got {status}")
        req = stored(w, view.id)
        after = get_order(w.db, order)
        if (req.state, after.status, after.payment_received) != (
            P.SENT,
            OrderStatus.MPAY,
            False,
        ):
            w.problems.append(f"refused callbacks moved the payment: {req.state}, {after.status}")
        # The real ones still go through afterwards.
        statuses = {d["status"] for d in w.sandbox.deliver_webhooks()}
        if statuses != {200}:
            w.problems.append(f"the genuine callbacks got {statuses}")
        meant = P.RESERVED if provider in RESERVES else P.PAID
        if stored(w, view.id).state != meant:
            w.problems.append(f"after the genuine callbacks: {stored(w, view.id).state}")
        w.ops += cases + 4
        deliver_pending(w.db, senders(w.settings))  # Stripe's pay link
        problems = w.violations()
    figures.add(AREA, cases=cases, faults=cases, operations=w.ops, violations=len(problems))
    assert not problems, "\n".join(problems)


def _deliver(w: World) -> list[int | None]:
    return [d["status"] for d in w.sandbox.deliver_webhooks()]


def _flow(w: World, **switches: bool) -> tuple[Any, ...]:
    """Pay, capture and partly refund one order, callbacks delivered as the switches say, then
    replay every delivered callback (freshly signed, as a retry would be): what verkstad ends
    with, moved only by callbacks (nothing polls)."""
    w.sandbox.webhooks(**{"duplicate": False, "reorder": False, **switches})
    order = w.order()
    view = w.send(order)
    w.approve(view.reference)
    statuses = _deliver(w)
    after_callbacks = stored(w, view.id).state
    if after_callbacks == P.RESERVED:
        mpay.capture(w.db, w.providers, w.actor, order)
        statuses += _deliver(w)
    mpay.refund(w.db, w.providers, w.actor, view.id, "100")
    statuses += _deliver(w)
    before_replay = stored(w, view.id)
    mine = [h for h in queued(w, "DELIVERED") if h["payment_id"] == before_replay.provider_ref]
    replayed = [post(h, signed(h)) for h in mine]
    req = stored(w, view.id)
    if (req.state, req.captured_minor, req.refunded_minor) != (
        before_replay.state,
        before_replay.captured_minor,
        before_replay.refunded_minor,
    ):
        w.problems.append(f"replayed callbacks moved the payment to {req.state}")
    if set(statuses) != {200} or set(replayed) - {200}:
        w.problems.append(f"deliveries {statuses}, replays {replayed} with {switches}")
    w.ops += 6 + len(statuses) + len(replayed)
    result = get_order(w.db, order)
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


VARIANTS = {
    "duplicated": {"duplicate": True},
    "reordered": {"reorder": True},
    "duplicated and reordered": {"duplicate": True, "reorder": True},
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_duplicated_reordered_and_replayed_deliveries_end_like_one_clean_delivery(
    provider: str,
    mail_sandbox: RunningSandbox,
    world_templates: Templates,
    figures,
) -> None:
    with hooked(mail_sandbox, world_templates, provider) as w:
        clean = _flow(w)
        if clean[1:4] != (P.PARTIALLY_REFUNDED, clean[2], 10_000):
            w.problems.append(f"the clean delivery ended {clean}")
        for name, switches in VARIANTS.items():
            outcome = _flow(w, **switches)
            if outcome != clean:
                w.problems.append(f"{name}: {outcome} instead of {clean}")
        deliver_pending(w.db, senders(w.settings))  # Stripe's pay links
        problems = w.violations()
    cases = 1 + len(VARIANTS)
    figures.add(AREA, cases=cases, faults=cases, operations=w.ops, violations=len(problems))
    assert not problems, "\n".join(problems)
