"""Kreditera: a credit note (ändringsfaktura) mirroring the invoice, the refund, the copy.

Order of commits, chosen so that a failing provider never leaves a
half-credited order:

1. Read and check everything (status, lines, amounts) without writing.
2. If the invoice was paid by M-Pay, refund through the payment service
   *first*. A refusal or an unknown outcome stops here: nothing is credited,
   the order stays BOKFÖRD and the user is told why.
3. One transaction: credit-note number from the invoice series, mirror
   verification, credit note with its lines, status KREDITERAD and the
   editable copy (linked both ways) — all or nothing.

If the process dies between 2 and 3, the money is back with the customer but
the order is not credited yet; crediting again sees the refund that no credit
note accounts for yet and does not refund a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from verkstad.audit import record
from verkstad.clock import now, today
from verkstad.db import Database
from verkstad.errors import ConflictError, DomainError, NotFoundError
from verkstad.failpoints import reach
from verkstad.i18n import _
from verkstad.ledger.accounts import load_chart
from verkstad.ledger.journal import Row, add_verification, merged, negate, rows_of
from verkstad.ledger.models import CreditNote, CreditNoteLine, Verification
from verkstad.ledger.posting import amount_rows, counterparty, order_lines
from verkstad.money import Money
from verkstad.mpay.models import PaymentOperation, PaymentRequest
from verkstad.mpay.service import Providers, refund
from verkstad.mpay.status import PaymentState
from verkstad.orders.models import Order, OrderLine
from verkstad.orders.service import company_row, lock_order, transition
from verkstad.orders.status import Action, OrderStatus, PaymentMethod, next_status
from verkstad.orders.totals import compute_totals
from verkstad.series import take_number
from verkstad.users import Actor

REFUNDABLE = (PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED)


@dataclass(frozen=True)
class CreditPlan:
    """What a credit will book, worked out before anything is written."""

    line_ids: tuple[int, ...]  # the order lines credited (text lines included)
    rows: tuple[Row, ...]
    total_minor: int  # what the customer gets back
    completes: bool  # no chargeable line of the invoice is left uncredited afterwards
    request_id: int | None  # the M-Pay payment to refund through, if any


@dataclass(frozen=True)
class CreditView:
    number: int
    original_invoice_number: int
    order_number: int
    status: str  # of the credited order afterwards
    copy_order_number: int | None
    verification_number: int
    total_minor: int
    refund_minor: int
    currency: str
    line_ids: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["line_ids"] = list(self.line_ids)
        return data


def _invoice_verification(s: Session, order: Order) -> Verification:
    found = s.exec(
        select(Verification).where(
            Verification.order_id == order.id,
            Verification.kind == "invoice",
            Verification.document_number == order.invoice_number,
        )
    ).first()
    if found is None:
        raise DomainError(_("Order {n} has no posted invoice.").format(n=order.number))
    return found


def _credited_line_ids(s: Session, order: Order) -> dict[int, int]:
    """Order line id → the credit note that credited it."""
    query = (
        select(CreditNoteLine.order_line_id, CreditNote.number)
        .join(CreditNote, col(CreditNote.id) == CreditNoteLine.credit_note_id)
        .where(CreditNote.order_id == order.id)
    )
    return {line_id: number for line_id, number in s.exec(query)}


def _mobile_request(s: Session, order: Order) -> int | None:
    if order.payment_method != PaymentMethod.MOBIL:
        return None
    req_id = s.exec(
        select(PaymentRequest.id)
        .where(
            PaymentRequest.order_id == order.id,
            col(PaymentRequest.state).in_([x.value for x in REFUNDABLE]),
        )
        .order_by(col(PaymentRequest.id).desc())
    ).first()
    if req_id is None:
        raise DomainError(
            _(
                "Order {n} was paid by mobile payment, but no paid payment request was found. "
                "Credit it without a refund and pay the customer back another way."
            ).format(n=order.number)
        )
    return req_id


def plan_credit(
    s: Session, order: Order, line_ids: Sequence[int] | None, refund: bool = True
) -> CreditPlan:
    """Check that the order can be credited (all or ``line_ids``) and work out the booking."""
    next_status(OrderStatus(order.status), Action.CREDIT)
    original = _invoice_verification(s, order)
    credited = _credited_line_ids(s, order)
    lines = order_lines(s, order)
    remaining = [line for line in lines if line.id not in credited]
    if line_ids is None:
        selected = remaining
    else:
        by_id = {line.id: line for line in lines}
        for line_id in line_ids:
            if line_id not in by_id:
                raise NotFoundError(
                    _("Order {n} has no line {line}.").format(n=order.number, line=line_id)
                )
            if line_id in credited:
                raise DomainError(
                    _("Line {line} of order {n} is already credited (credit note {c}).").format(
                        line=line_id, n=order.number, c=credited[line_id]
                    )
                )
        wanted = set(line_ids)
        selected = [line for line in remaining if line.id in wanted]
    chargeable = {line.id for line in remaining if line.kind != "text"}
    chosen = {line.id for line in selected}
    if not chargeable & chosen:
        raise DomainError(_("Order {n}: there is nothing left to credit.").format(n=order.number))
    completes = chargeable <= chosen
    if completes:
        # The last credit takes exactly what is left, so every account nets to zero.
        earlier = s.exec(select(Verification.id).where(Verification.order_id == order.id)).all()
        booked = rows_of(s, [i for i in earlier if i is not None])
        rows = negate(merged(r for rs in booked.values() for r in rs))
    else:
        totals = compute_totals(selected, company_row(s).round_to_whole)
        invoice_rows = rows_of(s, [original.id or 0])[original.id or 0]
        debit = next(r.account for r in invoice_rows if r.role == "payment")
        rows = negate(amount_rows(selected, totals, debit, load_chart(s)))
    total = -sum(r.amount for r in rows if r.role == "payment")
    return CreditPlan(
        tuple(line.id for line in selected if line.id is not None),
        tuple(rows),
        total,
        completes,
        _mobile_request(s, order) if refund else None,
    )


def credit_order(
    db: Database,
    providers: Providers,
    actor: Actor,
    order_number: int,
    line_ids: Sequence[int] | None = None,
    expected_version: int | None = None,
    reason: str = "",
    refund: bool = True,
    reopen: bool = True,
) -> CreditView:
    """Kreditera the whole invoice (or ``line_ids``); refund an M-Pay payment; reopen as a copy.

    ``refund=False`` credits without touching the provider (the customer is paid
    back another way). ``reopen`` makes the editable copy when the order
    becomes KREDITERAD.
    """
    with db.read() as s:
        plan = plan_credit(s, _current(s, order_number, expected_version), line_ids, refund)
    refunded = 0
    if refund and plan.request_id is not None:
        refunded = _refund(db, providers, actor, plan.request_id, plan.total_minor, order_number)
        reach("credit.after_refund")
    with db.session() as s:
        order = lock_order(s, order_number, expected_version)
        again = plan_credit(s, order, line_ids, refund)
        if (again.line_ids, again.total_minor) != (plan.line_ids, plan.total_minor):
            raise ConflictError(
                _("Order {n} was credited by someone else meanwhile; reload it.").format(
                    n=order_number
                )
            )
        return _book_credit(s, actor, order, again, refunded, reason, reopen)


def _current(s: Session, number: int, expected_version: int | None) -> Order:
    order = s.exec(select(Order).where(Order.number == number)).first()
    if order is None:
        raise NotFoundError(_("There is no order number {n}.").format(n=number))
    if expected_version is not None and order.version != expected_version:
        raise ConflictError(
            _("Order {n} was changed after you opened it. Reload it and try again.").format(
                n=number
            )
        )
    return order


def _book_credit(
    s: Session,
    actor: Actor,
    order: Order,
    plan: CreditPlan,
    refunded: int,
    reason: str,
    reopen: bool,
) -> CreditView:
    assert order.id is not None and order.invoice_number is not None
    number = take_number(s, "invoice")
    text = _("Credit note {credit} for invoice {invoice}, order {order}, {customer}").format(
        credit=number,
        invoice=order.invoice_number,
        order=order.number,
        customer=counterparty(s, order),
    )
    verification = add_verification(
        s, actor, "credit", today(), text, list(plan.rows), order.id, number
    )
    assert verification.id is not None
    note = CreditNote(
        number=number,
        order_id=order.id,
        original_invoice_number=order.invoice_number,
        verification_id=verification.id,
        total_minor=plan.total_minor,
        refund_minor=refunded,
        payment_request_id=plan.request_id if refunded else None,
        reason=reason.strip()[:500],
        created_by=actor.name,
    )
    s.add(note)
    s.flush()
    assert note.id is not None
    lines = [line for line in order_lines(s, order) if line.id in plan.line_ids]
    for line in lines:
        assert line.id is not None
        s.add(
            CreditNoteLine(
                credit_note_id=note.id,
                order_line_id=line.id,
                position=line.position,
                kind=line.kind,
                article_number=line.article_number,
                description=line.description,
                quantity_milli=line.quantity_milli,
                unit=line.unit,
                unit_price_minor=line.unit_price_minor,
                discount_bp=line.discount_bp,
                vat_rate=line.vat_rate,
            )
        )
    why = _("credit note {n}").format(n=number) + (f": {reason.strip()}" if reason.strip() else "")
    copy_number = None
    if plan.completes:
        transition(s, actor, order, Action.CREDIT, why)
        if reopen:
            copy_number = _copy(s, actor, order, lines).number
    else:
        order.version += 1
        order.updated_at, order.updated_by = now(), actor.name
        record(s, actor, "order", order.number, "credit_partial", None, list(plan.line_ids), why)
    return CreditView(
        number,
        order.invoice_number,
        order.number,
        order.status,
        copy_number,
        verification.number,
        plan.total_minor,
        refunded,
        order.currency,
        plan.line_ids,
    )


def _copy(s: Session, actor: Actor, order: Order, lines: list[OrderLine]) -> Order:
    """The credited order opened again: a new editable order with the credited lines."""
    totals = compute_totals(lines, company_row(s).round_to_whole)
    copy = Order(
        number=take_number(s, "order"),
        customer_id=order.customer_id,
        vehicle_id=order.vehicle_id,
        status=OrderStatus.OPEN,
        currency=order.currency,
        net_minor=totals.net,
        vat_minor=totals.vat,
        rounding_minor=totals.rounding,
        total_minor=totals.payable,
        notes=order.notes,
        copied_from_id=order.id,
        extra_costs_applied=True,  # the credited lines already carry them
        created_by=actor.name,
        updated_by=actor.name,
    )
    s.add(copy)
    s.flush()
    assert copy.id is not None
    for position, line in enumerate(lines, 1):
        s.add(
            OrderLine(
                order_id=copy.id,
                position=position,
                kind=line.kind,
                article_number=line.article_number,
                description=line.description,
                quantity_milli=line.quantity_milli,
                unit=line.unit,
                unit_price_minor=line.unit_price_minor,
                discount_bp=line.discount_bp,
                vat_rate=line.vat_rate,
            )
        )
    order.copied_to_id = copy.id
    record(s, actor, "order", copy.number, "create", None, {"copied_from": order.number})
    record(s, actor, "order", order.number, "copied", None, {"copied_to": copy.number})
    return copy


def _refund(
    db: Database,
    providers: Providers,
    actor: Actor,
    request_id: int,
    amount: int,
    order_number: int,
) -> int:
    """Refund ``amount`` through the provider, minus refunds no credit note accounts for yet."""
    with db.read() as s:
        req = s.get(PaymentRequest, request_id)
        assert req is not None
        pending = s.exec(
            select(PaymentOperation.id).where(
                PaymentOperation.request_id == request_id,
                PaymentOperation.kind == "refund",
                PaymentOperation.state == "PENDING",
            )
        ).first()
        if pending is not None:
            raise DomainError(
                _(
                    "A refund of payment {ref} is still waiting for the provider's answer. "
                    "Run `verkstad mpay reconcile`, then credit again."
                ).format(ref=req.reference)
            )
        covered = s.exec(
            select(func.coalesce(func.sum(CreditNote.refund_minor), 0)).where(
                CreditNote.payment_request_id == request_id
            )
        ).one()
        uncovered = max(0, req.refunded_minor - int(covered))
        left = req.captured_minor - req.refunded_minor
        reference, currency = req.reference, req.currency
    due = max(0, amount - uncovered)
    if due > left:
        raise DomainError(
            _(
                "Only {left} of payment {ref} can still be refunded through the provider. "
                "Credit without a refund and pay the customer back another way."
            ).format(left=Money(left, currency).format(), ref=reference)
        )
    if due:
        note = _("Credit of order {n}").format(n=order_number)
        refund(db, providers, actor, request_id, Money(due, currency).plain(), note)
    return amount
