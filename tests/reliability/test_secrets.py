"""No secret shows: not in config show, logs, audit events, messages to users or exports."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from verkstad.audit import AuditEvent
from verkstad.cli import run

pytestmark = pytest.mark.reliability

SECRETS = {
    "VERKSTAD_VIPPS__CLIENT_SECRET": "vipps-hemlighet-4711",
    "VERKSTAD_VIPPS__SUBSCRIPTION_KEY": "vipps-subkey-0815",
    "VERKSTAD_STRIPE__API_KEY": "sk_live_hemlig_nyckel",
    "VERKSTAD_STRIPE__WEBHOOK_SECRET": "whsec_hemlig",
    "VERKSTAD_RESURS__CLIENT_SECRET": "resurs-hemlighet",
    "VERKSTAD_SMS__PASSWORD": "sms-losen-123",
    "VERKSTAD_SMTP__PASSWORD": "smtp-losen-456",
    "VERKSTAD_SWISH__CALLBACK_SECRET": "swish-hemlighet",
}


def test_no_output_anywhere_contains_a_secret(tmp_path, monkeypatch, caplog, figures):
    db_path = tmp_path / "s.db"
    monkeypatch.setenv("VERKSTAD_DATABASE_URL", f"sqlite:///{db_path}")
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    # Providers that cannot be reached: their errors are shown to staff.
    monkeypatch.setenv("VERKSTAD_SANDBOX_URL", "http://127.0.0.1:9")
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    runner = CliRunner()

    def cli(*args: str) -> None:
        with runner.isolation() as streams:
            run(["--lang", "en", *args])
            sys.stdout.flush()
            sys.stderr.flush()
            outputs.append(streams[0].getvalue().decode() + streams[1].getvalue().decode())

    cli("config", "show")
    cli("config", "show", "--format", "json")
    cli("customers", "add", "--name", "Åsa", "--phone", "070-123 45 67", "--email", "a@example.se")
    cli("orders", "create", "--customer", "10001")
    cli("orders", "add-line", "1001", "--desc", "Arbete", "--price", "1000")
    cli("orders", "complete", "1001")
    for name in ("M-Pay",):
        cli("mpay", "send", "1001", "--channel", name)
    cli("channels", "add", "Stripe", "--provider", "stripe")
    cli("mpay", "send", "1001", "--channel", "Stripe")
    cli("mpay", "reconcile")
    cli("payments", "list", "--format", "json")
    cli("orders", "history", "1001", "--format", "json")
    cli("export", "csv", "orders", "-o", str(tmp_path / "orders.csv"))
    outputs.append((tmp_path / "orders.csv").read_text(encoding="utf-8-sig"))
    outputs.append(caplog.text)
    from verkstad.db import Database

    db = Database(f"sqlite:///{db_path}")
    with db.read() as s:
        outputs.append(json.dumps([e.model_dump(mode="json") for e in s.exec(select(AuditEvent))]))
    db.dispose()
    everything = "\n".join(outputs)
    assert "did not answer" in everything or "cannot be reached" in everything  # errors were shown
    leaked = [secret for secret in SECRETS.values() if secret in everything]
    figures.add("secrets", cases=len(SECRETS), operations=len(outputs), violations=len(leaked))
    assert not leaked, f"secrets leaked: {leaked}"
