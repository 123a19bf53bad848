"""The outbox: every SMS and e-mail to a customer is written in the same transaction as the
change that causes it, then delivered with retries. A dedupe key per message means a
crash between sending and recording is resolved by the gateway, never by a second text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Column, Index, Text, update
from sqlmodel import Field, Session, SQLModel, col, select

from verkstad.clock import format_datetime, now
from verkstad.db import Database, UTCDateTime
from verkstad.errors import DomainError
from verkstad.failpoints import reach
from verkstad.i18n import translation_for
from verkstad.money import Money
from verkstad.orders.models import Customer

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)  # how long a claimed message is left alone


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=5)  # sms | email
    recipient: str = Field(max_length=200)
    subject: str = Field(default="", max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    dedupe_key: str = Field(max_length=80, unique=True)
    state: str = Field(default="PENDING", max_length=10)  # PENDING | SENT | FAILED
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    payment_request_id: int | None = Field(
        default=None, foreign_key="payment_requests.id", index=True
    )
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)


def queue(
    s: Session,
    channel: str,
    recipient: str,
    body: str,
    dedupe_key: str,
    subject: str = "",
    payment_request_id: int | None = None,
) -> None:
    """Add a message unless one with the same dedupe key exists (queueing is idempotent)."""
    if s.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first():
        return
    s.add(
        OutboxMessage(
            channel=channel,
            recipient=recipient,
            body=body,
            subject=subject,
            dedupe_key=dedupe_key,
            payment_request_id=payment_request_id,
        )
    )


def queue_payment_link(s: Session, req: object) -> None:
    """Text and/or e-mail the customer a payment link, in the customer's language."""
    from verkstad.mpay.models import PaymentRequest

    assert isinstance(req, PaymentRequest) and req.link
    customer = s.get(Customer, req.customer_id)
    assert customer is not None
    t = translation_for(customer.language).gettext
    amount = Money(req.amount_minor, req.currency).format(customer.language)
    expires = format_datetime(req.expires_at, customer.language) if req.expires_at else ""
    body = (
        t("Pay {amount} for {reference}: {link} (valid until {expires}). {explanation}")
        .format(
            amount=amount,
            reference=req.reference,
            link=req.link,
            expires=expires,
            explanation=req.explanation,
        )
        .strip()
    )
    if req.send_sms and req.phone:
        queue(
            s,
            "sms",
            req.phone,
            body,
            f"pay-link:{req.idempotency_key}:sms",
            payment_request_id=req.id,
        )
    if req.send_email and req.email:
        subject = t("Payment request {reference}").format(reference=req.reference)
        queue(s, "email", req.email, body, f"pay-link:{req.idempotency_key}:email", subject, req.id)


Sender = Callable[[OutboxMessage], None]


def deliver_pending(db: Database, senders: dict[str, Sender], limit: int = 100) -> int:
    """Send what is due; returns how many were sent.

    Each message is first claimed with a lease (committed), then sent, then
    marked: a crash after sending leaves the lease to run out and the message
    is sent again with the same dedupe key, which the gateway recognises.
    """
    with db.read() as s:
        due = list(
            s.exec(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.state == "PENDING", col(OutboxMessage.next_attempt_at) <= now()
                )
                .order_by(col(OutboxMessage.id))
                .limit(limit)
            )
        )
    sent = 0
    for message_id in due:
        with db.session() as s:
            claimed = (
                s.connection()
                .execute(
                    update(OutboxMessage)
                    .where(
                        col(OutboxMessage.id) == message_id,
                        col(OutboxMessage.state) == "PENDING",
                        col(OutboxMessage.next_attempt_at) <= now(),
                    )
                    .values(attempts=OutboxMessage.attempts + 1, next_attempt_at=now() + LEASE)
                )
                .rowcount
            )
            message = s.get(OutboxMessage, message_id)
        if not claimed or message is None:
            continue  # another terminal's scheduler has it
        try:
            senders[message.channel](message)
        except DomainError as e:
            with db.session() as s:
                row = s.get(OutboxMessage, message_id)
                assert row is not None
                row.last_error = str(e)
                row.next_attempt_at = now() + timedelta(seconds=min(3600, 5 * 2**row.attempts))
                if row.attempts >= MAX_ATTEMPTS:
                    row.state = "FAILED"
            continue
        reach("outbox.after_send")
        with db.session() as s:
            row = s.get(OutboxMessage, message_id)
            assert row is not None
            row.state, row.sent_at, row.last_error = "SENT", now(), None
        sent += 1
    return sent


def messages_for_request(db: Database, request_id: int) -> list[OutboxMessage]:
    with db.read() as s:
        return list(
            s.exec(select(OutboxMessage).where(OutboxMessage.payment_request_id == request_id))
        )
