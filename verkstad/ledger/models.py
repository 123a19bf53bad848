"""Tables of the books: verifications and their rows, settings, credit notes, settlements."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from verkstad.clock import now
from verkstad.db import UTCDateTime


class BookSetting(SQLModel, table=True):
    """One setting of the books (an account for a role, payment terms, SIE series…)."""

    __tablename__ = "book_settings"
    key: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=100)
    updated_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    updated_by: str = Field(max_length=40)


class Verification(SQLModel, table=True):
    """A voucher (verifikation): numbered from a gapless series, rows sum to zero."""

    __tablename__ = "verifications"
    __table_args__ = (Index("ix_verifications_booked", "booked_on", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True)
    booked_on: date  # the transaction date, in the workshop's time zone
    kind: str = Field(max_length=12)  # invoice | credit | settlement
    text: str = Field(max_length=200)
    order_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("orders.id"), nullable=True, index=True),
    )
    document_number: int | None = None  # the invoice or credit-note number
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    created_by: str = Field(max_length=40)


class VerificationRow(SQLModel, table=True):
    """One #TRANS: debit positive, credit negative, in öre.

    ``role`` and ``vat_rate`` say why the row exists (sales at 25 %, VAT at 12 %…),
    so a credit can mirror a posting even after the chart has changed.
    """

    __tablename__ = "verification_rows"
    __table_args__ = (Index("ix_verification_rows_account", "account", "verification_id"),)
    id: int | None = Field(default=None, primary_key=True)
    verification_id: int = Field(
        sa_column=Column(Integer, ForeignKey("verifications.id"), nullable=False, index=True)
    )
    account: str = Field(max_length=6)
    amount_minor: int
    role: str = Field(max_length=12)  # payment | sales | vat | rounding | bank | fee | fee_vat
    vat_rate: int | None = None


class CreditNote(SQLModel, table=True):
    """An ändringsfaktura: its own number in the invoice series, referring to the original."""

    __tablename__ = "credit_notes"
    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True)
    order_id: int = Field(
        sa_column=Column(Integer, ForeignKey("orders.id"), nullable=False, index=True)
    )
    original_invoice_number: int
    verification_id: int = Field(foreign_key="verifications.id")
    total_minor: int  # what the customer gets back, incl. VAT and rounding
    refund_minor: int = 0  # of which refunded through the payment provider
    payment_request_id: int | None = Field(default=None, foreign_key="payment_requests.id")
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    created_by: str = Field(max_length=40)


class CreditNoteLine(SQLModel, table=True):
    """A credited order line, as it stood on the original invoice."""

    __tablename__ = "credit_note_lines"
    id: int | None = Field(default=None, primary_key=True)
    credit_note_id: int = Field(foreign_key="credit_notes.id", index=True)
    order_line_id: int = Field(foreign_key="order_lines.id", index=True)
    position: int
    kind: str = Field(max_length=10)
    article_number: str = Field(default="", max_length=40)
    description: str = Field(max_length=200)
    quantity_milli: int
    unit: str = Field(default="", max_length=10)
    unit_price_minor: int
    discount_bp: int = 0
    vat_rate: int = 25


class SettlementImport(SQLModel, table=True):
    """One imported settlement report (kept even when nothing in it could be booked)."""

    __tablename__ = "settlement_imports"
    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=20)
    file_name: str = Field(max_length=200)
    sha256: str = Field(max_length=64, index=True)
    booked: int = 0
    skipped: int = 0
    imported_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    imported_by: str = Field(max_length=40)


class SettledPayment(SQLModel, table=True):
    """A payment (or refund) booked from a payout: the unique key stops a second booking."""

    __tablename__ = "settled_payments"
    __table_args__ = (
        UniqueConstraint("provider", "payout_id", "line_key", name="ux_settled_once"),
    )
    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="settlement_imports.id", index=True)
    verification_id: int = Field(foreign_key="verifications.id", index=True)
    payment_request_id: int = Field(foreign_key="payment_requests.id", index=True)
    provider: str = Field(max_length=20)
    payout_id: str = Field(max_length=100)
    line_key: str = Field(max_length=200)  # the movement within the payout (kind, id, time, amount)
    reference: str = Field(max_length=100)
    kind: str = Field(max_length=10)  # payment | refund
    gross_minor: int
    fee_minor: int
    fee_vat_minor: int
    net_minor: int


class PaymentReport(SQLModel, table=True):
    """A period's payment report written by the scheduler: the unique key writes it once."""

    __tablename__ = "payment_reports"
    __table_args__ = (UniqueConstraint("period", "starts_on", name="ux_payment_report_once"),)
    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=5)  # day | week | month
    starts_on: date  # the first day of the period, in the workshop's time zone
    file_name: str = Field(max_length=200)
    emailed_to: str = Field(default="", max_length=200)
    written_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
