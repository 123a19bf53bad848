"""Bokför: an order gets its invoice number, one verification and the status BOKFÖRD, at once.

The debit goes to the payment method's account (MOBIL → 1931 as the seed
says), sales are credited per VAT rate and line kind, VAT per rate, and the
öresavrundning to 3740. Everything happens in one unit of work, so the
invoice series stays gapless and no order is ever posted half-way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlmodel import Session, col, select

from verkstad.clock import now, today
from verkstad.db import Database
from verkstad.errors import DomainError, ValidationError
from verkstad.i18n import _
from verkstad.ledger.accounts import SALES_KINDS, Chart, load_chart
from verkstad.ledger.journal import Row, RowView, add_verification, merged
from verkstad.mpay.service import cancelling
from verkstad.orders.models import Customer, Order, OrderLine
from verkstad.orders.service import company_row, lock_order, transition
from verkstad.orders.status import Action, OrderStatus, PaymentMethod, next_status
from verkstad.orders.totals import Totals, compute_totals, line_net
from verkstad.series import take_number
from verkstad.users import Actor


class PostableLine(Protocol):
    kind: str
    quantity_milli: int
    unit_price_minor: int
    discount_bp: int
    vat_rate: int


def _sales_order(line: PostableLine) -> tuple[int, int]:
    kind = line.kind if line.kind in SALES_KINDS else "fee"
    return (-line.vat_rate, SALES_KINDS.index(kind))


def sales_rows(lines: Iterable[PostableLine], chart: Chart) -> list[Row]:
    """Sales credited per VAT rate and account (parts before labour, as on the invoice)."""
    rows = [
        Row(chart.sales(line.vat_rate, line.kind), -line_net(line), "sales", line.vat_rate)
        for line in sorted(lines, key=_sales_order)
        if line.kind != "text"
    ]
    return merged(rows)


def amount_rows(
    lines: Sequence[PostableLine], totals: Totals, debit_account: str, chart: Chart
) -> list[Row]:
    """The verification of an invoice for ``lines`` whose totals are ``totals``."""
    rows = [Row(debit_account, totals.payable, "payment")]
    rows += sales_rows(lines, chart)
    rows += [Row(chart.vat(r.rate), -r.vat, "vat", r.rate) for r in totals.rates if r.vat]
    rows.append(Row(chart["rounding"], -totals.rounding, "rounding"))
    return merged(rows)


def invoice_rows(
    lines: Sequence[PostableLine], round_to_whole: bool, method: str, chart: Chart
) -> list[Row]:
    """The worked example: 1931 D 3 812,00; 3051 C 1 199,20; 3041 C 1 850,00; 2611 C 762,30;
    3740 C 0,50."""
    totals = compute_totals(lines, round_to_whole)
    return amount_rows(lines, totals, chart.payment(method), chart)


def order_lines(s: Session, order: Order) -> list[OrderLine]:
    query = select(OrderLine).where(OrderLine.order_id == order.id)
    return list(s.exec(query.order_by(col(OrderLine.position))))


def counterparty(s: Session, order: Order) -> str:
    """The customer as a voucher names them (BFL 5:7): number and name, as SIE can hold it."""
    from verkstad.ledger.sie import book_text

    customer = s.get(Customer, order.customer_id)
    assert customer is not None
    return f"{customer.number} {book_text(customer.name)}".strip()


def _method_to_post(order: Order) -> PaymentMethod:
    """KLART with a method other than MOBIL, or MOBILBET once the mobile payment is in."""
    status = OrderStatus(order.status)
    next_status(status, Action.POST)  # refuses every other status, saying what is allowed
    method = PaymentMethod(order.payment_method) if order.payment_method else None
    if status == OrderStatus.MPAY:
        if not order.payment_received or method != PaymentMethod.MOBIL:
            raise DomainError(
                _(
                    "Order {n} is waiting for its mobile payment. Check the payment first "
                    "(Ctrl+L), or cancel the payment SMS to take payment another way."
                ).format(n=order.number)
            )
        return method
    if method is None:
        raise ValidationError(
            _("Payment method"),
            _("choose how the customer pays (KONTANT, KORT or FAKTURA) before posting"),
        )
    if method == PaymentMethod.MOBIL:
        raise DomainError(
            _("Order {n}: a mobile payment is posted from MOBILBET once it is paid.").format(
                n=order.number
            )
        )
    return method


@dataclass(frozen=True)
class PostedView:
    order_number: int
    invoice_number: int
    verification_number: int
    payment_method: str
    total_minor: int
    currency: str
    version: int
    rows: list[RowView]

    def to_json(self) -> dict[str, object]:
        data = dict(self.__dict__)
        data["rows"] = [r.__dict__ for r in self.rows]
        return data


def post_order(
    db: Database, actor: Actor, order_number: int, expected_version: int | None = None
) -> PostedView:
    """Bokför: invoice number, verification and BOKFÖRD in one transaction, balanced to the öre."""
    with db.session() as s:
        order = lock_order(s, order_number, expected_version)
        method = _method_to_post(order)
        assert order.id is not None
        if order.status == OrderStatus.MPAY and cancelling(s, order.id):
            raise DomainError(
                _(
                    "Order {n}: its mobile payment is being cancelled (and refunded if paid), "
                    "so it cannot be posted."
                ).format(n=order_number)
            )
        lines = order_lines(s, order)
        company = company_row(s)
        totals = compute_totals(lines, company.round_to_whole)
        if totals.payable != order.total_minor:
            raise DomainError(
                _("Order {n}: its stored total does not match its lines; open and save it.").format(
                    n=order_number
                )
            )
        chart = load_chart(s)
        rows = invoice_rows(lines, company.round_to_whole, method, chart)
        invoice_number = take_number(s, "invoice")
        text = _("Invoice {invoice}, order {order}, {customer}, {method}").format(
            invoice=invoice_number,
            order=order_number,
            customer=counterparty(s, order),
            method=method.value,
        )
        verification = add_verification(
            s, actor, "invoice", today(), text, rows, order.id, invoice_number
        )
        order.invoice_number = invoice_number
        order.posted_at = now()
        transition(s, actor, order, Action.POST, _("invoice {n}").format(n=invoice_number))
        return PostedView(
            order_number,
            invoice_number,
            verification.number,
            method.value,
            totals.payable,
            order.currency,
            order.version,
            [RowView(r.account, chart.name(r.account), r.amount) for r in rows],
        )
