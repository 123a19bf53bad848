"""Tables of mobile payments: channels, requests, their provider operations and events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

from verkstad.clock import now
from verkstad.db import UTCDateTime
from verkstad.mpay.status import LIVE

# At most one live request per order, enforced by the database itself.
LIVE_STATES_SQL = "state IN (" + ", ".join(f"'{s.value}'" for s in sorted(LIVE)) + ")"


class PaymentChannel(SQLModel, table=True):
    """A way to take payments, set up by an admin: a provider and what it may be used for."""

    __tablename__ = "payment_channels"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, unique=True)
    provider: str = Field(max_length=20)
    transaction_types: str = Field(default="receive,refund", max_length=40)  # comma list
    sms_enabled: bool = True
    email_enabled: bool = False
    link_lifetime_minutes: int = 24 * 60
    users: str = Field(
        default="", sa_column=Column(Text, nullable=False, default="")
    )  # "" = everyone
    active: bool = True


class PaymentRequest(SQLModel, table=True):
    __tablename__ = "payment_requests"
    __table_args__ = (
        Index(
            "ux_payment_live_per_order",
            "order_id",
            unique=True,
            sqlite_where=text(LIVE_STATES_SQL),
            postgresql_where=text(LIVE_STATES_SQL),
        ),
        Index("ix_payment_state", "state", "id"),
        Index("ix_payment_created", "created_at", "id"),
        Index("ix_payment_creator", "created_by", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=100, unique=True)
    idempotency_key: str = Field(max_length=50, unique=True)
    order_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("orders.id"), nullable=True)
    )
    customer_id: int = Field(foreign_key="customers.id", index=True)
    channel_id: int = Field(foreign_key="payment_channels.id")
    provider: str = Field(max_length=20)
    provider_ref: str | None = Field(default=None, max_length=100, index=True)
    state: str = Field(max_length=20)
    amount_minor: int
    currency: str = Field(max_length=3)
    captured_minor: int = 0
    refunded_minor: int = 0
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=200)
    send_sms: bool = False
    send_email: bool = False
    explanation: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    link: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    method: str | None = Field(default=None, max_length=30)  # how the customer chose to pay
    failure_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    failed_attempts: int = 0  # declined/failed tries before the one that paid
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reserved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consolidated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consolidated_by: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    created_by: str = Field(max_length=40)
    updated_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)


class PaymentOperation(SQLModel, table=True):
    """One cancel / capture / refund, committed before the provider is called.

    Its idempotency key is reused by every retry and by reconcile, so an
    operation whose reply was lost is finished, never repeated.
    """

    __tablename__ = "payment_operations"
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="payment_requests.id", index=True)
    kind: str = Field(max_length=10)  # cancel | capture | refund
    idempotency_key: str = Field(max_length=50, unique=True)
    amount_minor: int = 0
    state: str = Field(default="PENDING", max_length=10)  # PENDING | DONE | FAILED
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    created_by: str = Field(max_length=40)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PaymentEvent(SQLModel, table=True):
    """What happened to a request and what the provider said, in order."""

    __tablename__ = "payment_events"
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="payment_requests.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    user_name: str = Field(max_length=40)
    kind: str = Field(max_length=20)
    state: str | None = Field(default=None, max_length=20)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    raw: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class PaymentDraft(SQLModel, table=True):
    """A half-filled send form, kept when the user leaves it (one per user and order/customer)."""

    __tablename__ = "payment_drafts"
    id: int | None = Field(default=None, primary_key=True)
    user_name: str = Field(max_length=40)
    key: str = Field(max_length=40)  # "order:1042" or "customer:10017"
    fields: str = Field(sa_column=Column(Text, nullable=False))
    saved_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    __table_args__ = (Index("ux_draft_user_key", "user_name", "key", unique=True),)
