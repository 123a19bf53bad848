"""Tables of the invoices: the payment reminders sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from verkstad.clock import now
from verkstad.db import UTCDateTime


class InvoiceReminder(SQLModel, table=True):
    """A reminder sent for an invoice; the unique key stops a level being sent twice."""

    __tablename__ = "invoice_reminders"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=Column(Integer, ForeignKey("orders.id"), nullable=False, index=True)
    )
    invoice_number: int
    level: int  # 1 = the first reminder
    dedupe_key: str = Field(max_length=80, unique=True)  # "reminder:<invoice>:<level>"
    amount_minor: int  # what was left to pay
    fee_minor: int = 0  # the reminder fee stated on it (never booked)
    channel: str = Field(max_length=5)  # email | sms
    sent_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    sent_by: str = Field(max_length=40)
