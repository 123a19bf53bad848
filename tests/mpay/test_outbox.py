"""The outbox over real SMTP (aiosmtpd): delivered once, retried with backoff, and a crash
after sending is resent with the same Message-ID (so the recipient's system folds it)."""

import socket
from datetime import timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from freezegun import freeze_time
from sqlmodel import select

from verkstad import failpoints
from verkstad.clock import now
from verkstad.config import Settings, SmtpSettings
from verkstad.failpoints import SimulatedCrash
from verkstad.mpay.notify import LEASE, OutboxMessage, deliver_pending, queue
from verkstad.mpay.senders import senders


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def _settings(port: int) -> Settings:
    return Settings(smtp=SmtpSettings(host="127.0.0.1", port=port, sender="kassa@verkstad.example"))


def _queue(db, key: str = "k1") -> None:
    with db.session() as s:
        queue(
            s, "email", "asa@example.se", "Betala 3 812,00 kr", key, subject="Betalning 2026-03-05"
        )


def test_delivered_once_and_queueing_is_idempotent(db, smtp):
    inbox, port = smtp
    _queue(db)
    _queue(db)  # the same cause queued twice is one message
    assert deliver_pending(db, senders(_settings(port))) == 1
    assert deliver_pending(db, senders(_settings(port))) == 0
    assert len(inbox.messages) == 1
    mail = message_from_bytes(inbox.messages[0])
    assert mail["To"] == "asa@example.se" and mail["Subject"] == "Betalning 2026-03-05"
    assert "3 812,00 kr" in mail.get_payload()


def test_unreachable_server_is_retried_with_backoff(db, smtp):
    inbox, port = smtp
    _queue(db)
    with freeze_time(now()) as clock:
        assert deliver_pending(db, senders(_settings(1))) == 0  # nothing listens on port 1
        with db.read() as s:
            row = s.get(OutboxMessage, 1)
            assert (
                row.state == "PENDING"
                and row.attempts == 1
                and "could not be sent" in row.last_error
            )
        assert deliver_pending(db, senders(_settings(port))) == 0  # not due yet
        clock.tick(timedelta(seconds=11))
        assert deliver_pending(db, senders(_settings(port))) == 1
    assert len(inbox.messages) == 1


def test_crash_after_sending_resends_with_the_same_message_id(db, smtp):
    inbox, port = smtp
    _queue(db)
    failpoints.arm("outbox.after_send")
    try:
        with freeze_time(now()) as clock, pytest.raises(SimulatedCrash):
            deliver_pending(db, senders(_settings(port)))
    finally:
        failpoints.disarm_all()
    with freeze_time(now()) as clock:
        assert deliver_pending(db, senders(_settings(port))) == 0  # leased: left alone
        clock.tick(LEASE + timedelta(seconds=1))
        assert deliver_pending(db, senders(_settings(port))) == 1
    ids = {message_from_bytes(m)["Message-ID"] for m in inbox.messages}
    assert len(inbox.messages) == 2 and len(ids) == 1


def test_attachments_arrive_byte_for_byte(db, smtp):
    inbox, port = smtp
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\r\n.\r\n\n.\n%%EOF"  # every byte, SMTP dots
    note = "Rad 1\r\nRäksmörgås\n".encode()
    with db.session() as s:
        queue(
            s,
            "email",
            "asa@example.se",
            "Fakturan bifogas.",
            "invoice:1",
            subject="Faktura 1",
            attachments=[
                ("faktura-1.pdf", "application/pdf", pdf),
                ("note.txt", "text/plain", note),
            ],
        )
    assert deliver_pending(db, senders(_settings(port))) == 1
    mail = message_from_bytes(inbox.messages[0])
    parts = [p for p in mail.walk() if p.get_filename()]
    assert [(p.get_filename(), p.get_content_type()) for p in parts] == [
        ("faktura-1.pdf", "application/pdf"),
        ("note.txt", "text/plain"),
    ]
    assert parts[0].get_payload(decode=True) == pdf
    assert parts[1].get_payload(decode=True) == note
    body = next(
        p for p in mail.walk() if p.get_content_type() == "text/plain" and not p.get_filename()
    )
    assert "Fakturan bifogas." in body.get_payload(decode=True).decode()


def test_an_attachment_is_kept_with_its_message_until_sent(db):
    with db.session() as s:
        queue(
            s,
            "email",
            "a@example.se",
            "x",
            "k",
            attachments=[("a.bin", "application/octet-stream", b"\x00\xff")],
        )
        queue(
            s,
            "email",
            "a@example.se",
            "x",
            "k",
            attachments=[("b.bin", "application/octet-stream", b"2")],
        )
    with db.read() as s:
        (row,) = s.exec(select(OutboxMessage)).all()
        assert [(a.filename, a.content) for a in row.attachments] == [("a.bin", b"\x00\xff")]
