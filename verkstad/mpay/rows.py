"""M-Pay's rows: payment requests and their operations — read, locked, shown, recorded.

The lowest layer of the M-Pay services (``verkstad.mpay.service`` is their facade): the
constants and small helpers that sending, checking, the operations and recovery share.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import Session, col, select

from verkstad.db import Database
from verkstad.errors import DomainError, NotFoundError
from verkstad.i18n import _
from verkstad.money import Money
from verkstad.mpay.models import PaymentChannel, PaymentEvent, PaymentOperation, PaymentRequest
from verkstad.mpay.providers.base import PaymentLine, PaymentProvider
from verkstad.mpay.providers.base import PaymentRequest as ProviderRequest
from verkstad.mpay.status import LIVE, PaymentState
from verkstad.mpay.views import PaymentView, payment_view
from verkstad.orders.models import Customer, Order, OrderLine
from verkstad.orders.totals import div_round, line_net
from verkstad.users import Actor

Providers = Callable[[str], PaymentProvider]
P = PaymentState
PAID_STATES = (P.PAID, P.PARTIALLY_REFUNDED)
ENDED_UNPAID = (P.DECLINED, P.EXPIRED, P.CANCELLED, P.FAILED)
# How long a create whose answer was lost may still land at the provider (a slow provider
# works on after verkstad gave up): until then a lost create is only looked up, and a
# cancel does not conclude that it never arrived.
SETTLE = timedelta(minutes=2)


def new_key() -> str:
    return uuid.uuid4().hex


# ---------------------------------------------------------------- helpers


def _event(
    s: Session, req: PaymentRequest, actor: Actor, kind: str, detail: str = "", raw: object = None
) -> None:
    assert req.id is not None
    s.add(
        PaymentEvent(
            request_id=req.id,
            user_name=actor.name,
            kind=kind,
            state=req.state,
            detail=detail,
            raw=json.dumps(raw, ensure_ascii=False, default=str) if raw is not None else None,
        )
    )


def _request_for_update(s: Session, request_id: int) -> PaymentRequest:
    """The request, locked for change (FOR NO KEY UPDATE, see ``lock_order_id``).

    A unit of work that changes a request and its order locks the request first.
    """
    req = s.exec(
        select(PaymentRequest)
        .where(PaymentRequest.id == request_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one()
    return req


def _live_request(s: Session, order_id: int) -> PaymentRequest | None:
    return s.exec(
        select(PaymentRequest).where(
            PaymentRequest.order_id == order_id,
            col(PaymentRequest.state).in_([x.value for x in LIVE]),
        )
    ).first()


def _latest_request(s: Session, order_id: int) -> PaymentRequest | None:
    return s.exec(
        select(PaymentRequest)
        .where(PaymentRequest.order_id == order_id)
        .order_by(col(PaymentRequest.id).desc())
    ).first()


def _is_latest(s: Session, req: PaymentRequest) -> bool:
    latest = _latest_request(s, req.order_id or 0)
    return latest is not None and latest.id == req.id


def _view(s: Session, req: PaymentRequest, with_events: bool = False) -> PaymentView:
    customer = s.get(Customer, req.customer_id)
    channel = s.get(PaymentChannel, req.channel_id)
    assert customer is not None and channel is not None
    order = s.get(Order, req.order_id) if req.order_id else None
    events = (
        list(
            s.exec(
                select(PaymentEvent)
                .where(PaymentEvent.request_id == req.id)
                .order_by(col(PaymentEvent.id))
            )
        )
        if with_events
        else None
    )
    return payment_view(
        req,
        order.number if order else None,
        customer.number,
        customer.name,
        channel.name,
        events=events,
    )


def payment_lines(s: Session, order: Order) -> tuple[PaymentLine, ...]:
    """The order's lines with VAT per line; a last line carries rounding so they sum up."""
    lines = []
    total = 0
    for line in s.exec(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(col(OrderLine.position))
    ):
        if line.kind == "text":
            continue
        net = line_net(line)
        gross = net + div_round(net * line.vat_rate, 100)
        total += gross
        lines.append(
            PaymentLine(
                line.description,
                line.quantity_milli,
                line.unit,
                line.unit_price_minor,
                line.vat_rate,
                gross,
            )
        )
    if total != order.total_minor:
        diff = order.total_minor - total
        lines.append(PaymentLine(_("Rounding"), 1000, "", diff, 0, diff))
    return tuple(lines)


def _provider_request(s: Session, req: PaymentRequest) -> ProviderRequest:
    customer = s.get(Customer, req.customer_id)
    assert customer is not None
    order = s.get(Order, req.order_id) if req.order_id else None
    return ProviderRequest(
        idempotency_key=req.idempotency_key,
        reference=req.reference,
        amount=Money(req.amount_minor, req.currency),
        phone=req.phone,
        email=req.email,
        message=req.explanation,
        customer_name=customer.name,
        lines=payment_lines(s, order) if order else (),
        expires_at=req.expires_at,
        send_sms=req.send_sms,
        send_email=req.send_email,
    )


# ---------------------------------------------------------------- operation rows


def _operation(
    s: Session, actor: Actor, req: PaymentRequest, kind: str, amount: int = 0, note: str = ""
) -> int:
    assert req.id is not None
    op = PaymentOperation(
        request_id=req.id,
        kind=kind,
        idempotency_key=new_key(),
        amount_minor=amount,
        note=note,
        created_by=actor.name,
    )
    s.add(op)
    s.flush()
    _event(
        s, req, actor, f"{kind}_requested", Money(amount, req.currency).format() if amount else ""
    )
    assert op.id is not None
    return op.id


def _pending(s: Session, req: PaymentRequest, kind: str) -> int | None:
    op = s.exec(
        select(PaymentOperation).where(
            PaymentOperation.request_id == req.id,
            PaymentOperation.kind == kind,
            PaymentOperation.state == "PENDING",
        )
    ).first()
    return op.id if op else None


# ---------------------------------------------------------------- look-ups


def request_by_provider_ref(db: Database, provider: str, provider_ref: str) -> int | None:
    with db.read() as s:
        return s.exec(
            select(PaymentRequest.id).where(
                PaymentRequest.provider == provider, PaymentRequest.provider_ref == provider_ref
            )
        ).first()


def request_of_order(db: Database, order_number: int) -> int:
    """The id of an order's latest payment request (for refund by order number)."""
    with db.read() as s:
        order = s.exec(select(Order).where(Order.number == order_number)).first()
        if order is None:
            raise NotFoundError(_("There is no order number {n}.").format(n=order_number))
        req = _latest_request(s, order.id or 0)
        if req is None or req.id is None:
            raise DomainError(
                _("No payment request has been sent for order {n}.").format(n=order_number)
            )
        return req.id
