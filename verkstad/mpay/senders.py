"""Delivering outbox messages: SMS through the SMS gateway, e-mail through SMTP.

A failure becomes a DomainError so the outbox retries it with backoff.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.message import EmailMessage

from verkstad.config import Settings
from verkstad.errors import DomainError
from verkstad.i18n import _
from verkstad.mpay.notify import OutboxMessage, Sender


def senders(settings: Settings) -> dict[str, Sender]:
    return {"sms": lambda m: send_sms(settings, m), "email": lambda m: send_email(settings, m)}


def send_sms(settings: Settings, message: OutboxMessage) -> None:
    from verkstad.mpay.providers.sms import SmsGateway

    gateway = SmsGateway(settings)
    try:
        gateway.send(message.recipient, message.body, message.dedupe_key)
    finally:
        gateway.close()


def send_email(settings: Settings, message: OutboxMessage) -> None:
    smtp = settings.smtp
    mail = EmailMessage()
    mail["From"] = smtp.sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    # The same message always has the same id, so a resend after a crash is recognisable.
    digest = hashlib.sha256(message.dedupe_key.encode()).hexdigest()[:32]
    mail["Message-ID"] = f"<{digest}@outbox.verkstad>"
    mail.set_content(message.body)
    for a in message.attachments:
        maintype, _slash, subtype = a.mime_type.partition("/")
        mail.add_attachment(a.content, maintype=maintype, subtype=subtype, filename=a.filename)
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host,
                smtp.port,
                timeout=settings.http_timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=settings.http_timeout_seconds)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, smtp.password.get_secret_value())
            client.send_message(mail)
    except (OSError, smtplib.SMTPException) as e:
        raise DomainError(
            _("The e-mail to {to} could not be sent: {error}").format(to=message.recipient, error=e)
        ) from None
