"""What an invoice, a credit note and a receipt say, gathered from the books as plain data.

Amounts come from the document's own verification, so the PDF shows exactly
what was booked. A credit note shows negative quantities and amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from verkstad.audit import AuditEvent
from verkstad.clock import local
from verkstad.db import Database
from verkstad.errors import DomainError, NotFoundError
from verkstad.i18n import _
from verkstad.invoices.ocr import payment_reference
from verkstad.ledger.accounts import setting
from verkstad.ledger.journal import Row, rows_of
from verkstad.ledger.models import CreditNote, CreditNoteLine, Verification
from verkstad.mpay.models import PaymentOperation, PaymentRequest
from verkstad.orders.models import Customer, Order, OrderLine, Vehicle
from verkstad.orders.service import company_row
from verkstad.orders.status import PaymentMethod
from verkstad.orders.totals import LineLike, compute_totals, line_net
from verkstad.orders.views import CompanyView, CustomerView, VehicleView


@dataclass(frozen=True)
class DocLine:
    kind: str
    article_number: str
    description: str
    quantity_milli: int
    unit: str
    unit_price_minor: int  # excl. VAT
    discount_bp: int
    vat_rate: int
    net_minor: int


@dataclass(frozen=True)
class RateSum:
    rate: int
    net_minor: int  # the taxable amount
    vat_minor: int


@dataclass(frozen=True)
class Amounts:
    rates: list[RateSum]
    net_minor: int
    vat_minor: int
    rounding_minor: int
    total_minor: int


@dataclass(frozen=True)
class InvoiceDocument:
    kind: str  # invoice | credit
    number: int
    issued: date
    due: date
    delivered: date | None
    currency: str
    seller: CompanyView
    buyer: CustomerView
    vehicle: VehicleView | None
    order_number: int
    lines: list[DocLine]
    amounts: Amounts
    payment_method: str | None
    paid_on: date | None  # paid at the counter or by mobile: nothing left to pay
    reference_label: str  # OCR | KID
    reference: str
    original_number: int | None = None  # a credit note's invoice
    original_issued: date | None = None
    refund_minor: int = 0
    refund_reference: str | None = None
    reason: str = ""


def _doc_line(line: LineLike, kind: str, article: str, description: str, unit: str) -> DocLine:
    return DocLine(
        kind,
        article,
        description,
        line.quantity_milli,
        unit,
        line.unit_price_minor,
        line.discount_bp,
        line.vat_rate,
        line_net(line),
    )


def _negated(line: DocLine) -> DocLine:
    return DocLine(
        line.kind,
        line.article_number,
        line.description,
        -line.quantity_milli,
        line.unit,
        line.unit_price_minor,
        line.discount_bp,
        line.vat_rate,
        -line.net_minor,
    )


def amounts_of(rows: list[Row]) -> Amounts:
    """What a verification booked, as an invoice shows it (a credit note's come out negative)."""
    rates: dict[int, list[int]] = {}
    for r in rows:
        if r.role in ("sales", "vat") and r.vat_rate is not None:
            sums = rates.setdefault(r.vat_rate, [0, 0])
            sums[0 if r.role == "sales" else 1] -= r.amount
    per_rate = [RateSum(rate, n, v) for rate, (n, v) in sorted(rates.items(), reverse=True)]
    return Amounts(
        per_rate,
        sum(x.net_minor for x in per_rate),
        sum(x.vat_minor for x in per_rate),
        -sum(r.amount for r in rows if r.role == "rounding"),
        sum(r.amount for r in rows if r.role == "payment"),
    )


def _verification(s: Session, kind: str, order: Order, number: int) -> Verification:
    found = s.exec(
        select(Verification).where(
            Verification.order_id == order.id,
            Verification.kind == kind,
            Verification.document_number == number,
        )
    ).first()
    assert found is not None, "a posted document always has its verification"
    return found


def _delivered(s: Session, order: Order) -> date | None:
    """When the work was done: the order's last "mark complete"."""
    at = s.exec(
        select(AuditEvent.at)
        .where(
            AuditEvent.entity == "order",
            AuditEvent.entity_id == str(order.number),
            AuditEvent.action == "complete",
        )
        .order_by(col(AuditEvent.id).desc())
    ).first()
    return local(at).date() if at else None


def _parties(s: Session, order: Order) -> tuple[CustomerView, VehicleView | None]:
    customer = s.get(Customer, order.customer_id)
    assert customer is not None
    vehicle = s.get(Vehicle, order.vehicle_id) if order.vehicle_id else None
    return CustomerView.of(customer), VehicleView.of(vehicle, customer.number) if vehicle else None


def _order_by_number(s: Session, number: int) -> Order:
    order = s.exec(select(Order).where(Order.number == number)).first()
    if order is None:
        raise NotFoundError(_("There is no order number {n}.").format(n=number))
    return order


def invoice_document(db: Database, order_number: int) -> InvoiceDocument:
    with db.read() as s:
        order = _order_by_number(s, order_number)
        if order.invoice_number is None:
            raise DomainError(
                _("Order {n} is not posted yet, so it has no invoice.").format(n=order_number)
            )
        verification = _verification(s, "invoice", order, order.invoice_number)
        company = company_row(s)
        buyer, vehicle = _parties(s, order)
        lines = s.exec(
            select(OrderLine)
            .where(OrderLine.order_id == order.id)
            .order_by(col(OrderLine.position))
        ).all()
        issued = verification.booked_on
        billed = order.payment_method == PaymentMethod.FAKTURA
        terms = int(setting(s, "invoice.terms_days")) if billed else 0
        paid_at = order.payment_received_at or order.posted_at
        label, reference = payment_reference(company.country, order.invoice_number)
        return InvoiceDocument(
            kind="invoice",
            number=order.invoice_number,
            issued=issued,
            due=issued + timedelta(days=terms),
            delivered=_delivered(s, order),
            currency=order.currency,
            seller=CompanyView.of(company),
            buyer=buyer,
            vehicle=vehicle,
            order_number=order.number,
            lines=[_doc_line(x, x.kind, x.article_number, x.description, x.unit) for x in lines],
            amounts=amounts_of(rows_of(s, [verification.id or 0])[verification.id or 0]),
            payment_method=order.payment_method,
            paid_on=None if billed or paid_at is None else local(paid_at).date(),
            reference_label=label,
            reference=reference,
        )


def credit_note_document(db: Database, credit_number: int) -> InvoiceDocument:
    with db.read() as s:
        note = s.exec(select(CreditNote).where(CreditNote.number == credit_number)).first()
        if note is None:
            raise NotFoundError(_("There is no credit note number {n}.").format(n=credit_number))
        order = s.get(Order, note.order_id)
        assert order is not None
        verification = s.get(Verification, note.verification_id)
        original = _verification(s, "invoice", order, note.original_invoice_number)
        assert verification is not None and verification.id is not None
        company = company_row(s)
        buyer, vehicle = _parties(s, order)
        lines = s.exec(
            select(CreditNoteLine)
            .where(CreditNoteLine.credit_note_id == note.id)
            .order_by(col(CreditNoteLine.position))
        ).all()
        refund_ref = None
        if note.payment_request_id is not None:
            req = s.get(PaymentRequest, note.payment_request_id)
            refund_ref = req.reference if req else None
        label, reference = payment_reference(company.country, note.number)
        return InvoiceDocument(
            kind="credit",
            number=note.number,
            issued=verification.booked_on,
            due=verification.booked_on,
            delivered=None,
            currency=order.currency,
            seller=CompanyView.of(company),
            buyer=buyer,
            vehicle=vehicle,
            order_number=order.number,
            lines=[
                _negated(_doc_line(x, x.kind, x.article_number, x.description, x.unit))
                for x in lines
            ],
            amounts=amounts_of(rows_of(s, [verification.id])[verification.id]),
            payment_method=order.payment_method,
            paid_on=None,
            reference_label=label,
            reference=reference,
            original_number=note.original_invoice_number,
            original_issued=original.booked_on,
            refund_minor=note.refund_minor,
            refund_reference=refund_ref,
            reason=note.reason,
        )


def credit_numbers(db: Database, order_number: int) -> list[int]:
    """The order's credit notes, oldest first."""
    with db.read() as s:
        order = _order_by_number(s, order_number)
        return list(
            s.exec(
                select(CreditNote.number)
                .where(CreditNote.order_id == order.id)
                .order_by(col(CreditNote.number))
            )
        )


# ---------------------------------------------------------------- receipts


@dataclass(frozen=True)
class RefundLine:
    at: datetime
    amount_minor: int
    note: str


@dataclass(frozen=True)
class ReceiptDocument:
    refund: bool  # a receipt for the refunds rather than the payment
    payment_id: int
    seller: CompanyView
    customer_name: str
    customer_number: int
    language: str  # the customer's: the receipt is written in it
    reference: str
    provider: str
    method: str | None
    paid_at: datetime
    order_number: int | None
    amount_minor: int  # captured
    currency: str
    lines: list[DocLine] = field(default_factory=list)
    amounts: Amounts | None = None
    refunds: list[RefundLine] = field(default_factory=list)


def receipt_document(db: Database, payment_id: int, refund: bool = False) -> ReceiptDocument:
    """Kvitto for a completed mobile payment, or (``refund``) for what was paid back."""
    with db.read() as s:
        req = s.get(PaymentRequest, payment_id)
        if req is None:
            raise NotFoundError(_("There is no payment {id}.").format(id=payment_id))
        if req.paid_at is None or req.captured_minor == 0:
            raise DomainError(
                _("Payment {ref} is not completed; there is no receipt yet.").format(
                    ref=req.reference
                )
            )
        refunds = [
            RefundLine(op.done_at or op.created_at, op.amount_minor, op.note)
            for op in s.exec(
                select(PaymentOperation)
                .where(
                    PaymentOperation.request_id == payment_id,
                    PaymentOperation.kind == "refund",
                    PaymentOperation.state == "DONE",
                )
                .order_by(col(PaymentOperation.id))
            )
        ]
        if refund and not refunds:
            raise DomainError(
                _("Nothing of payment {ref} has been refunded.").format(ref=req.reference)
            )
        customer = s.get(Customer, req.customer_id)
        assert customer is not None
        order = s.get(Order, req.order_id) if req.order_id else None
        lines: list[DocLine] = []
        amounts = None
        if order is not None and order.total_minor == req.amount_minor:
            order_lines = s.exec(
                select(OrderLine)
                .where(OrderLine.order_id == order.id)
                .order_by(col(OrderLine.position))
            ).all()
            lines = [
                _doc_line(x, x.kind, x.article_number, x.description, x.unit) for x in order_lines
            ]
            totals = compute_totals(order_lines, company_row(s).round_to_whole)
            amounts = Amounts(
                [RateSum(r.rate, r.net, r.vat) for r in totals.rates],
                totals.net,
                totals.vat,
                totals.rounding,
                totals.payable,
            )
        return ReceiptDocument(
            refund=refund,
            payment_id=payment_id,
            seller=CompanyView.of(company_row(s)),
            customer_name=customer.name,
            customer_number=customer.number,
            language=customer.language,
            reference=req.reference,
            provider=req.provider,
            method=req.method,
            paid_at=req.paid_at,
            order_number=order.number if order else None,
            amount_minor=req.captured_minor,
            currency=req.currency,
            lines=lines,
            amounts=amounts,
            refunds=refunds,
        )
