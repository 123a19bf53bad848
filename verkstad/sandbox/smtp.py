"""The sandbox's SMTP server (aiosmtpd): every e-mail it receives lands in the recipients' inboxes.

It is verkstad's default SMTP endpoint (127.0.0.1:8025, no TLS, no login), so
e-mail works on a fresh install and the tests send over real SMTP. A mailbox
keeps one copy per Message-ID, as a real one does: a resend after a crash shows once.
"""

from __future__ import annotations

import base64
import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from verkstad.sandbox.core import Sandbox


def parse_mail(raw: bytes) -> dict[str, Any]:
    """What the inbox shows of one message: headers, the text body and the attachments."""
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    body = mail.get_body(preferencelist=("plain",))
    attachments = []
    for part in mail.iter_attachments():
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):  # an attached message: keep it whole
            data = part.as_bytes()
        attachments.append(
            {
                "name": part.get_filename() or "",
                "content_type": part.get_content_type(),
                "size": len(data),
                "data": base64.b64encode(data).decode(),
            }
        )
    return {
        "from": str(mail.get("From", "")),
        "to": [address for _name, address in getaddresses([str(mail.get("To", ""))])],
        "subject": str(mail.get("Subject", "")),
        "message_id": str(mail["Message-ID"]).strip() if mail["Message-ID"] else None,
        "text": body.get_content().replace("\r\n", "\n") if body is not None else "",
        "attachments": attachments,
    }


class InboxHandler:
    """aiosmtpd handler: store the message in the inbox of every envelope recipient."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        mail = {"at": self.sb.now().isoformat(), **parse_mail(raw)}
        for address in envelope.rcpt_tos:
            self.sb.store.add_mail(address.lower(), mail["message_id"], mail)
        return "250 Message accepted for delivery"


class SmtpServer(Controller):
    """aiosmtpd's threaded server on a socket bound beforehand (port 0: a free one).

    ``start()`` returns once it accepts connections; ``stop()`` closes it.
    """

    def __init__(self, sandbox: Sandbox, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(InboxHandler(sandbox), hostname=host, port=port)
        self._sock = sock

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)
