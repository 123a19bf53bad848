"""`verkstad sandbox …` commands, `serve` in its own process, and faults on demand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from verkstad.config import Settings
from verkstad.errors import DomainError
from verkstad.money import Money
from verkstad.mpay.providers.base import PaymentRequest, ProviderUnavailable
from verkstad.mpay.providers.resurs import ResursProvider
from verkstad.mpay.providers.stripe import StripeProvider
from verkstad.mpay.status import PaymentState as P
from verkstad.sandbox.cli import app
from verkstad.sandbox.core import SandboxError
from verkstad.sandbox.testing import RunningSandbox


def run(sandbox: RunningSandbox, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--url", sandbox.url])
    if result.exception:
        raise result.exception
    return result.output


def test_playing_the_customer_from_the_command_line(
    settings: Settings, sandbox: RunningSandbox
) -> None:
    resurs = ResursProvider(settings)
    sent = resurs.create(
        PaymentRequest(uuid.uuid4().hex, "M-500", Money(80_000, "SEK"), phone="+46701234567")
    )
    assert "Resurs Bank" in run(sandbox, "phone", "+46701234567")
    assert "(opened)" in run(sandbox, "open", "M-500")
    assert "(entering details)" in run(sandbox, "start", "M-500")
    assert "ACCEPTED" in run(sandbox, "approve", "M-500", "--method", "part_payment")
    assert resurs.status(sent.provider_ref).method == "PART_PAYMENT"
    with pytest.raises(DomainError, match="nothing to do"):
        run(sandbox, "decline", "M-500")

    other = resurs.create(
        PaymentRequest(uuid.uuid4().hex, "M-501", Money(80_000, "SEK"), phone="+46701234567")
    )
    assert "M-501" in run(sandbox, "payments")
    assert "REJECTED" in run(sandbox, "expire", "M-501")
    assert resurs.status(other.provider_ref).state == P.EXPIRED
    resurs.close()

    assert "Sandbox time is now" in run(sandbox, "advance", "--minutes", "5")
    run(sandbox, "fault", "error", "--provider", "swish", "--count", "2")
    listed = run(sandbox, "fault", "--no-rate-limits")
    assert "'kind': 'error'" in listed and "Rate limits: off" in listed
    assert "'kind'" not in run(sandbox, "fault", "--clear")
    assert "'duplicate': True" in run(sandbox, "webhooks", "--duplicate", "--deliver")
    assert "empty" in run(sandbox, "reset")


def test_no_sandbox_is_a_clear_error() -> None:
    with pytest.raises(DomainError, match=r"No sandbox answers at http://127\.0\.0\.1:9"):
        CliRunner().invoke(app, ["payments", "--url", "http://127.0.0.1:9"], catch_exceptions=False)


def test_serve_listens_on_loopback_and_answers(tmp_path: Path) -> None:
    env = {**os.environ, "VERKSTAD_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    code = "from verkstad.sandbox.cli import app; app()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", "0", "--db", str(tmp_path / "s.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split()[2]
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/_sandbox", timeout=10).json()["faults"]["rate_limits"] is True
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def test_fault_rules_count_down_and_validate(settings: Settings, sandbox: RunningSandbox) -> None:
    stripe = StripeProvider(settings)
    sent = stripe.create(PaymentRequest(uuid.uuid4().hex, "M-9", Money(10_000, "SEK")))
    sandbox.fault("latency", provider="stripe", latency_ms=1, remaining=1)
    sandbox.fault("error", provider="stripe", path="^/v1/checkout", remaining=2)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable, match="internal error"):
            stripe.status(sent.provider_ref)
    assert stripe.status(sent.provider_ref).state == P.SENT
    assert sandbox.control("GET", "/_sandbox/faults")["rules"] == []
    with pytest.raises(SandboxError, match="kind must be one of"):
        sandbox.fault("explode")
    stripe.close()


def test_stripe_allows_25_requests_a_second(settings: Settings, sandbox: RunningSandbox) -> None:
    stripe = StripeProvider(settings)
    sandbox.control("POST", "/_sandbox/clock/freeze", {"frozen": True})  # one long second
    sent = stripe.create(PaymentRequest(uuid.uuid4().hex, "M-10", Money(10_000, "SEK")))
    for _ in range(24):
        stripe.status(sent.provider_ref)
    with pytest.raises(ProviderUnavailable, match="too many requests"):
        stripe.status(sent.provider_ref)
    sandbox.control("POST", "/_sandbox/faults", {"rate_limits": False})
    assert stripe.status(sent.provider_ref).state == P.SENT
    stripe.close()
