"""The customer's phone (JSON and HTML), customer actions, state across a restart, the clock."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from verkstad.config import Settings
from verkstad.money import Money
from verkstad.mpay.providers.base import PaymentRequest
from verkstad.mpay.providers.resurs import ResursProvider
from verkstad.mpay.providers.stripe import StripeProvider
from verkstad.mpay.providers.vipps import VippsProvider
from verkstad.mpay.status import PaymentState as P
from verkstad.sandbox.core import SandboxError
from verkstad.sandbox.testing import RunningSandbox, run_sandbox


def vipps_request(phone: str = "+4791234567") -> PaymentRequest:
    return PaymentRequest(uuid.uuid4().hex, "M-77", Money(50_000, "NOK"), phone=phone)


def test_phone_json_and_page_with_actions(settings: Settings, sandbox: RunningSandbox) -> None:
    vipps = VippsProvider(settings)
    ref = vipps.create(vipps_request()).provider_ref
    phone = sandbox.phone("+4791234567")
    assert phone["scenario"] == "ordinary"
    assert phone["payments"][0]["state"] == "CREATED"
    page = sandbox.client.get("/phone", params={"number": "+47 912 34 567"})
    assert "M-77" in page.text and "<form" in page.text

    pressed = sandbox.client.post(
        "/phone/act",
        data={"reference": ref, "action": "approve", "method": "", "back": "/phone"},
        follow_redirects=False,
    )
    assert pressed.status_code == 303
    assert vipps.status(ref).state == P.RESERVED
    refused = sandbox.client.post("/phone/act", data={"reference": ref, "action": "decline"})
    assert refused.status_code == 409
    vipps.close()


def test_checkout_and_resurs_pages_are_the_customer_opening_the_link(
    settings: Settings, sandbox: RunningSandbox
) -> None:
    stripe = StripeProvider(settings)
    link = stripe.create(PaymentRequest(uuid.uuid4().hex, "M-78", Money(50_000, "SEK"))).link
    assert link is not None
    assert "Checkout" in sandbox.client.get(link).text
    assert sandbox.control("GET", "/_sandbox/payments")[0]["customer"] == "opened"
    stripe.close()

    resurs = ResursProvider(settings)
    sent = resurs.create(
        PaymentRequest(uuid.uuid4().hex, "M-79", Money(50_000, "SEK"), phone="+46701234567")
    )
    assert sent.link and "Part payment" in sandbox.client.get(sent.link).text
    assert resurs.status(sent.provider_ref).state == P.OPENED
    resurs.close()


def test_customer_actions_refuse_what_cannot_happen(
    settings: Settings, sandbox: RunningSandbox
) -> None:
    vipps = VippsProvider(settings)
    with pytest.raises(SandboxError, match="No payment"):
        sandbox.act("nothing-here", "approve")
    ref = vipps.create(vipps_request()).provider_ref
    with pytest.raises(SandboxError, match="offers these methods"):
        sandbox.act(ref, "approve", "invoice")
    with pytest.raises(SandboxError, match="Unknown action"):
        sandbox.act(ref, "dance")
    silent = vipps.create(vipps_request("+4791299904")).provider_ref
    with pytest.raises(SandboxError, match="never answers"):
        sandbox.act(silent, "approve")
    vipps.close()


def test_clock_moves_forward_only_and_can_stand_still(sandbox: RunningSandbox) -> None:
    before = sandbox.control("GET", "/_sandbox/clock")
    sandbox.advance(days=2)
    after = sandbox.control("GET", "/_sandbox/clock")
    assert after["offset_seconds"] - before["offset_seconds"] == 2 * 86_400
    with pytest.raises(SandboxError, match="only moves forward"):
        sandbox.advance(minutes=-1)
    frozen = sandbox.control("POST", "/_sandbox/clock/freeze", {"frozen": True})
    assert sandbox.control("GET", "/_sandbox/clock")["now"] == frozen["now"]
    sandbox.control("POST", "/_sandbox/clock/freeze", {"frozen": False})


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    req = vipps_request()
    with run_sandbox(db) as first:
        vipps = VippsProvider(first.settings)
        ref = vipps.create(req).provider_ref
        first.act(ref, "approve")
        first.advance(minutes=5)
        offset = first.control("GET", "/_sandbox/clock")["offset_seconds"]
        vipps.close()
    with run_sandbox(db) as second:
        vipps = VippsProvider(second.settings)
        assert vipps.status(ref).state == P.RESERVED
        assert vipps.create(req).provider_ref == ref  # the saved idempotent answer survived
        assert second.control("GET", "/_sandbox/clock")["offset_seconds"] == offset
        assert second.phone("+4791234567")["messages"]
        vipps.close()
