"""The sandbox's SMTP server and the customer's inbox, over real SMTP and HTTP."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from verkstad.clock import now
from verkstad.db import Database
from verkstad.mpay.notify import OutboxMessage, deliver_pending, queue
from verkstad.mpay.senders import senders
from verkstad.sandbox.cli import app
from verkstad.sandbox.testing import RunningSandbox, run_sandbox

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"  # every byte value, 10 kB


@pytest.fixture(scope="module")
def _mail_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with run_sandbox(tmp_path_factory.mktemp("mail") / "sandbox.db", smtp=True) as running:
        yield running


@pytest.fixture
def mail_sandbox(_mail_sandbox: RunningSandbox) -> RunningSandbox:
    _mail_sandbox.reset()
    return _mail_sandbox


def invoice_mail(message_id: str = "<faktura-1001@verkstad.example>") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "kassa@verkstad.example"
    mail["To"] = "Åsa Öberg <asa@example.se>"
    mail["Subject"] = "Faktura 1001 – Bromsbelägg"
    mail["Message-ID"] = message_id
    mail.set_content("Hej Åsa!\nFakturan är bifogad.")
    mail.add_attachment(PDF, maintype="application", subtype="pdf", filename="faktura-1001.pdf")
    return mail


def send(running: RunningSandbox, mail: EmailMessage) -> None:
    assert running.smtp_port is not None
    with smtplib.SMTP("127.0.0.1", running.smtp_port) as client:
        client.send_message(mail)


def test_run_sandbox_points_verkstads_smtp_settings_at_it(mail_sandbox: RunningSandbox) -> None:
    smtp = mail_sandbox.settings.smtp
    assert (smtp.host, smtp.port, smtp.security) == ("127.0.0.1", mail_sandbox.smtp_port, "none")


def test_the_default_sandbox_starts_no_smtp_server(sandbox: RunningSandbox) -> None:
    assert sandbox.smtp_port is None and sandbox.settings.smtp.port == 8025


def test_a_mail_lands_in_the_inbox_with_its_attachment_byte_for_byte(
    mail_sandbox: RunningSandbox,
) -> None:
    send(mail_sandbox, invoice_mail())
    [mail] = mail_sandbox.inbox("Asa@Example.se")  # addresses are case-blind
    assert (mail["from"], mail["to"], mail["subject"]) == (
        "kassa@verkstad.example",
        ["asa@example.se"],
        "Faktura 1001 – Bromsbelägg",
    )
    assert mail["message_id"] == "<faktura-1001@verkstad.example>"
    assert mail["text"] == "Hej Åsa!\nFakturan är bifogad.\n"
    [attachment] = mail["attachments"]
    assert (attachment["name"], attachment["size"]) == ("faktura-1001.pdf", len(PDF))
    download = mail_sandbox.client.get(attachment["url"])
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert "faktura-1001.pdf" in download.headers["content-disposition"]
    assert mail_sandbox.inbox("someone.else@example.se") == []


def test_a_resend_with_the_same_message_id_shows_once(mail_sandbox: RunningSandbox) -> None:
    send(mail_sandbox, invoice_mail())
    send(mail_sandbox, invoice_mail())
    send(mail_sandbox, invoice_mail("<paminnelse-1001@verkstad.example>"))
    ids = [m["message_id"] for m in mail_sandbox.inbox("asa@example.se")]
    assert ids == ["<faktura-1001@verkstad.example>", "<paminnelse-1001@verkstad.example>"]


def test_verkstads_outbox_email_arrives_once(mail_sandbox: RunningSandbox, db: Database) -> None:
    with db.session() as s:
        queue(s, "email", "asa@example.se", "Betala 3 812,00 kr", "k1", subject="Betalning M-7")
    assert deliver_pending(db, senders(mail_sandbox.settings)) == 1
    with db.session() as s:  # as if the sender crashed before recording it: sent again
        s.connection().execute(update(OutboxMessage).values(state="PENDING", next_attempt_at=now()))
    assert deliver_pending(db, senders(mail_sandbox.settings)) == 1
    [mail] = mail_sandbox.inbox("asa@example.se")
    assert (mail["subject"], mail["text"]) == ("Betalning M-7", "Betala 3 812,00 kr\n")
    assert mail["from"] == mail_sandbox.settings.smtp.sender
    assert mail["message_id"].endswith("@outbox.verkstad>")


def test_the_inbox_page_and_the_command_line(mail_sandbox: RunningSandbox) -> None:
    send(mail_sandbox, invoice_mail())
    html = mail_sandbox.client.get("/inbox").text
    assert "asa@example.se" in html and "Faktura 1001 – Bromsbelägg" in html
    [mail] = mail_sandbox.inbox("asa@example.se")
    assert mail["attachments"][0]["url"] in html
    assert "No e-mails yet." in mail_sandbox.client.get("/inbox?address=nobody@example.se").text
    result = CliRunner().invoke(app, ["inbox", "asa@example.se", "--url", mail_sandbox.url])
    assert result.exit_code == 0, result.output
    assert "Faktura 1001 – Bromsbelägg" in result.output
    assert f"faktura-1001.pdf, {len(PDF)} B" in result.output


def test_serve_runs_the_smtp_server_beside_http(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a free port for the SMTP server
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    env = {**os.environ, "VERKSTAD_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    code = "from verkstad.sandbox.cli import app; app()"
    args = ["serve", "--port", "0", "--smtp-port", str(smtp_port), "--db", str(tmp_path / "s.db")]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[2]
        assert f"127.0.0.1:{smtp_port}" in proc.stdout.readline()  # printed once it listens
        with smtplib.SMTP("127.0.0.1", smtp_port) as client:
            client.send_message(invoice_mail())
        mails = httpx.get(f"{url}/inbox/asa@example.se", timeout=10).json()["mails"]
        assert [m["subject"] for m in mails] == ["Faktura 1001 – Bromsbelägg"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
