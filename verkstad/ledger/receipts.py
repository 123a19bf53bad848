"""Betalning mottagen for an invoice paid later (FAKTURA): the order is marked paid and the
payment booked as its own verification, bank debited and 1510 Kundfordringar credited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from verkstad.clock import local, now
from verkstad.db import Database
from verkstad.errors import DomainError, ValidationError
from verkstad.i18n import _
from verkstad.ledger.accounts import load_chart
from verkstad.ledger.journal import Row, add_verification
from verkstad.ledger.models import CreditNote
from verkstad.ledger.posting import counterparty
from verkstad.orders.models import Order
from verkstad.orders.service import lock_order, record_payment
from verkstad.orders.status import OrderStatus, PaymentMethod
from verkstad.users import Actor, Role


@dataclass(frozen=True)
class InvoicePaidView:
    order_number: int
    invoice_number: int
    amount_minor: int
    currency: str
    received_at: datetime
    verification_number: int


def left_to_pay(s: Session, order: Order) -> int:
    """The invoice's total less what credit notes took back."""
    credited = s.exec(
        select(func.coalesce(func.sum(CreditNote.total_minor), 0)).where(
            CreditNote.order_id == order.id
        )
    ).one()
    return order.total_minor - int(credited)


def register_invoice_paid(
    db: Database, actor: Actor, order_number: int, received_at: datetime | None = None
) -> InvoicePaidView:
    """The customer paid a posted FAKTURA invoice (PAYMENT_MANAGER or ADMIN): reminders stop."""
    actor.require(Role.PAYMENT_MANAGER, Role.ADMIN)
    at = received_at or now()
    if at > now():
        raise ValidationError(_("Time payment was received"), _("may not be in the future"))
    with db.session() as s:
        order = lock_order(s, order_number)
        if order.status != OrderStatus.POSTED or order.payment_method != PaymentMethod.FAKTURA:
            raise DomainError(
                _("Order {n} is not a posted invoice (FAKTURA) waiting for payment.").format(
                    n=order_number
                )
            )
        if order.payment_received:
            raise DomainError(_("Order {n} is already paid.").format(n=order_number))
        assert order.invoice_number is not None
        amount = left_to_pay(s, order)
        chart = load_chart(s)
        rows = [
            Row(chart["bank"], amount, "bank"),
            # not "payment": a later full credit mirrors every row of the order, and its
            # total is read from the "payment" rows, which this must not cancel out
            Row(chart.payment(PaymentMethod.FAKTURA), -amount, "receivable"),
        ]
        text = _("Payment of invoice {invoice}, order {order}, {customer}").format(
            invoice=order.invoice_number, order=order_number, customer=counterparty(s, order)
        )
        verification = add_verification(
            s, actor, "payment", local(at).date(), text, rows, order.id, order.invoice_number
        )
        record_payment(s, actor, order, PaymentMethod.FAKTURA, at, text)
        return InvoicePaidView(
            order_number,
            order.invoice_number,
            amount,
            order.currency,
            at,
            verification.number,
        )


def invoice_waits_for(s: Session, order: Order, amount: int) -> bool:
    """Whether ``amount`` pays exactly what a posted, unpaid FAKTURA invoice still asks."""
    return (
        order.status == OrderStatus.POSTED
        and order.payment_method == PaymentMethod.FAKTURA
        and not order.payment_received
        and order.invoice_number is not None
        and left_to_pay(s, order) == amount
    )


def book_mobile_invoice_payment(
    s: Session, actor: Actor, order: Order, amount: int, at: datetime, reference: str
) -> int:
    """A mobile payment that arrived for a posted FAKTURA invoice (a request cancelled while
    its create was still on the way, then paid): the invoice is paid. 1931 is debited, as
    for any mobile payment, so the provider's payout clears it; 1510 is credited. Returns
    the verification number."""
    assert order.invoice_number is not None
    chart = load_chart(s)
    rows = [
        Row(chart.payment(PaymentMethod.MOBIL), amount, "clearing"),
        Row(chart.payment(PaymentMethod.FAKTURA), -amount, "receivable"),
    ]
    text = _("Payment of invoice {invoice}, order {order}, {customer}").format(
        invoice=order.invoice_number, order=order.number, customer=counterparty(s, order)
    )
    verification = add_verification(
        s, actor, "payment", local(at).date(), text, rows, order.id, order.invoice_number
    )
    why = _("mobile payment {ref} received after the request had ended").format(ref=reference)
    record_payment(s, actor, order, PaymentMethod.FAKTURA, at, why)
    return verification.number


def paid_through_clearing(s: Session, order: Order) -> bool:
    """Whether the order's mobile payment went through 1931: posted as MOBIL, or a FAKTURA
    invoice paid by a late mobile payment (``book_mobile_invoice_payment``)."""
    if order.payment_method == PaymentMethod.MOBIL:
        return True
    if order.payment_method != PaymentMethod.FAKTURA or not order.payment_received:
        return False
    from verkstad.ledger.models import Verification, VerificationRow

    clearing = load_chart(s).payment(PaymentMethod.MOBIL)
    found = s.exec(
        select(VerificationRow.id)
        .join(Verification, Verification.id == VerificationRow.verification_id)  # type: ignore[arg-type]
        .where(
            Verification.order_id == order.id,
            Verification.kind == "payment",
            VerificationRow.account == clearing,
            VerificationRow.amount_minor > 0,
        )
    ).first()
    return found is not None
