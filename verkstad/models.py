"""Every table, imported in one place for Alembic and tests."""

import verkstad.ledger.models  # noqa: F401  (the books' tables)
from verkstad.audit import AuditEvent
from verkstad.invoices.models import InvoiceReminder
from verkstad.mpay.models import (
    PaymentChannel,
    PaymentDraft,
    PaymentEvent,
    PaymentOperation,
    PaymentRequest,
)
from verkstad.mpay.notify import OutboxAttachment, OutboxMessage
from verkstad.mpay.scheduler import JOBS_TABLE
from verkstad.mpay.templates import MessageTemplate
from verkstad.orders.extra_costs import ExtraCostRule
from verkstad.orders.models import Company, Customer, Order, OrderLine, Vehicle
from verkstad.series import Series
from verkstad.users import User

__all__ = [
    "JOBS_TABLE",
    "AuditEvent",
    "Company",
    "Customer",
    "ExtraCostRule",
    "InvoiceReminder",
    "MessageTemplate",
    "Order",
    "OrderLine",
    "OutboxAttachment",
    "OutboxMessage",
    "PaymentChannel",
    "PaymentDraft",
    "PaymentEvent",
    "PaymentOperation",
    "PaymentRequest",
    "Series",
    "User",
    "Vehicle",
]
