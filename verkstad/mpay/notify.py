"""The outbox: every SMS and e-mail to a customer is written in the same transaction as the
change that causes it, then delivered with retries. A dedupe key per message means a
crash between sending and recording is resolved by the gateway, never by a second text.

(No ``from __future__ import annotations`` here: SQLModel reads the relationship's
annotation at run time.)
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Index, LargeBinary, Text, update
from sqlmodel import Field, Relationship, Session, SQLModel, col, select

from verkstad.clock import format_datetime, now
from verkstad.db import Database, UTCDateTime
from verkstad.errors import DomainError
from verkstad.failpoints import reach
from verkstad.i18n import N_, _
from verkstad.money import Money
from verkstad.orders.models import Company, Customer, Order

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
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    # Loaded with the message, so a sender has them after the session has closed.
    attachments: list["OutboxAttachment"] = Relationship(
        sa_relationship_kwargs={"lazy": "selectin"}
    )


class OutboxAttachment(SQLModel, table=True):
    """A file sent with an e-mail, stored byte for byte with its message."""

    __tablename__ = "outbox_attachments"
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="outbox.id", index=True)
    filename: str = Field(max_length=200)
    mime_type: str = Field(max_length=100)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


Attachment = tuple[str, str, bytes]  # file name, MIME type ("application/pdf"), content


def queue(
    s: Session,
    channel: str,
    recipient: str,
    body: str,
    dedupe_key: str,
    subject: str = "",
    payment_request_id: int | None = None,
    *,
    order_id: int | None = None,
    attachments: Sequence[Attachment] = (),
) -> bool:
    """Add a message unless one with the same dedupe key exists (queueing is idempotent).

    Returns whether a message was added.
    """
    if s.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first():
        return False
    message = OutboxMessage(
        channel=channel,
        recipient=recipient,
        body=body,
        subject=subject,
        dedupe_key=dedupe_key,
        payment_request_id=payment_request_id,
        order_id=order_id,
    )
    s.add(message)
    s.flush()  # the message's id, for its attachments
    assert message.id is not None
    for name, mime, content in attachments:
        s.add(
            OutboxAttachment(message_id=message.id, filename=name, mime_type=mime, content=content)
        )
    return True


def queue_payment_link(s: Session, req: object) -> None:
    """Text and/or e-mail the customer a payment link: the template for the customer's
    language and the order's category, amounts and times in the customer's locale."""
    from verkstad.mpay.models import PaymentRequest
    from verkstad.mpay.templates import PAY_LINK_EMAIL, PAY_LINK_SMS, render
    from verkstad.orders.categories import order_category

    assert isinstance(req, PaymentRequest) and req.link
    customer = s.get(Customer, req.customer_id)
    company = s.get(Company, 1)
    assert customer is not None and company is not None
    lang = customer.language
    values = {
        "amount": Money(req.amount_minor, req.currency).format(lang),
        "reference": req.reference,
        "link": req.link,
        "expires": format_datetime(req.expires_at, lang) if req.expires_at else "",
        "explanation": req.explanation,
        "company": company.name,
    }
    category = order_category(s, req.order_id)
    key = f"pay-link:{req.idempotency_key}"
    if req.send_sms and req.phone:
        _subject, body = render(s, PAY_LINK_SMS, lang, category, values)
        queue(
            s,
            "sms",
            req.phone,
            body,
            f"{key}:sms",
            payment_request_id=req.id,
            order_id=req.order_id,
        )
    if req.send_email and req.email:
        subject, body = render(s, PAY_LINK_EMAIL, lang, category, values)
        queue(s, "email", req.email, body, f"{key}:email", subject, req.id, order_id=req.order_id)


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
        reach("outbox.after_claim")
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


# How a message's delivery is shown to staff.
MESSAGE_STATE_LABELS = {"PENDING": N_("Waiting"), "SENT": N_("Sent"), "FAILED": N_("Failed")}


@dataclass(frozen=True)
class MessageView:
    """How a message to the customer went, for the order's Billing tab and a payment's history."""

    channel: str
    recipient: str
    subject: str
    state: str  # PENDING | SENT | FAILED
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    attachments: tuple[str, ...]

    @property
    def state_label(self) -> str:
        return _(MESSAGE_STATE_LABELS[self.state])

    @property
    def channel_label(self) -> str:
        return _("E-mail") if self.channel == "email" else _("SMS")


def _views(rows: Sequence[OutboxMessage]) -> list[MessageView]:
    return [
        MessageView(
            m.channel,
            m.recipient,
            m.subject,
            m.state,
            m.attempts,
            m.created_at,
            m.sent_at,
            m.last_error,
            tuple(a.filename for a in m.attachments),
        )
        for m in rows
    ]


def messages_for_order(db: Database, order_number: int) -> list[MessageView]:
    """Every SMS and e-mail queued for the order, oldest first."""
    with db.read() as s:
        rows = s.exec(
            select(OutboxMessage)
            .join(Order, col(Order.id) == col(OutboxMessage.order_id))
            .where(Order.number == order_number)
            .order_by(col(OutboxMessage.id))
        ).all()
        return _views(rows)


def messages_for_payment(db: Database, request_id: int) -> list[MessageView]:
    """The payment link's SMS or e-mail (and any later message about it), oldest first."""
    with db.read() as s:
        rows = s.exec(
            select(OutboxMessage)
            .where(OutboxMessage.payment_request_id == request_id)
            .order_by(col(OutboxMessage.id))
        ).all()
        return _views(rows)
