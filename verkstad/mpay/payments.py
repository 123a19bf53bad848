"""The payments list ("Mina / Alla betalningar"), read marks, consolidation and send drafts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from verkstad.audit import record
from verkstad.clock import now
from verkstad.db import Database
from verkstad.errors import DomainError, NotFoundError, PermissionDenied
from verkstad.i18n import _
from verkstad.mpay.models import PaymentChannel, PaymentDraft, PaymentEvent, PaymentRequest
from verkstad.mpay.status import PaymentState
from verkstad.mpay.views import PaymentView, payment_view
from verkstad.orders.models import Customer, Order
from verkstad.users import Actor, Role, require_role


@dataclass(frozen=True)
class PaymentFilter:
    mine: bool = False
    states: tuple[PaymentState, ...] = ()
    provider: str | None = None
    customer_number: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    unread_paid: bool = False  # the success notifications still to acknowledge
    ended_from: datetime | None = None  # requests that ended (paid, expired…) since then


def _with_names() -> Any:
    """Requests with their customer's number and name, channel name and order number."""
    return (
        select(  # type: ignore[call-overload]
            PaymentRequest, Customer.number, Customer.name, PaymentChannel.name, Order.number
        )
        .join(Customer, col(Customer.id) == PaymentRequest.customer_id)
        .join(PaymentChannel, col(PaymentChannel.id) == PaymentRequest.channel_id)
        .outerjoin(Order, col(Order.id) == PaymentRequest.order_id)
    )


def list_payments(
    db: Database, actor: Actor, flt: PaymentFilter | None = None, limit: int = 200
) -> list[PaymentView]:
    f = flt or PaymentFilter()
    query = _with_names()
    if f.mine:
        query = query.where(PaymentRequest.created_by == actor.name)
    if f.states:
        query = query.where(col(PaymentRequest.state).in_([s.value for s in f.states]))
    if f.provider:
        query = query.where(PaymentRequest.provider == f.provider)
    if f.customer_number is not None:
        query = query.where(Customer.number == f.customer_number)
    if f.created_from:
        query = query.where(col(PaymentRequest.created_at) >= f.created_from)
    if f.created_to:
        query = query.where(col(PaymentRequest.created_at) < f.created_to)
    if f.ended_from:
        query = query.where(col(PaymentRequest.ended_at) >= f.ended_from)
    if f.unread_paid:
        query = query.where(
            col(PaymentRequest.state).in_([PaymentState.PAID.value]),
            col(PaymentRequest.read_at).is_(None),
        )
    query = query.order_by(col(PaymentRequest.id).desc()).limit(limit)
    with db.read() as s:
        return [
            payment_view(req, order_no, cust_no, cust_name, channel)
            for req, cust_no, cust_name, channel, order_no in s.exec(query)
        ]


def get_payment(db: Database, request_id: int) -> PaymentView:
    with db.read() as s:
        row = s.exec(_with_names().where(PaymentRequest.id == request_id)).first()
        if row is None:
            raise NotFoundError(_("There is no payment {id}.").format(id=request_id))
        req, cust_no, cust_name, channel, order_no = row
        events = list(
            s.exec(
                select(PaymentEvent)
                .where(PaymentEvent.request_id == request_id)
                .order_by(col(PaymentEvent.id))
            )
        )
        return payment_view(req, order_no, cust_no, cust_name, channel, events=events)


def payments_of_order(db: Database, order_number: int) -> list[PaymentView]:
    """An order's requests, newest first, with their events (the order's Betalningar tab)."""
    with db.read() as s:
        order_id = s.exec(select(Order.id).where(Order.number == order_number)).first()
        ids = list(
            s.exec(
                select(PaymentRequest.id)
                .where(PaymentRequest.order_id == order_id)
                .order_by(col(PaymentRequest.id).desc())
            )
        )
    return [get_payment(db, i) for i in ids if i is not None]


def mark_read(db: Database, actor: Actor, request_id: int) -> None:
    """Markera som läst: clears the success notification, only on one's own payments."""
    with db.session() as s:
        req = s.get(PaymentRequest, request_id)
        if req is None:
            raise NotFoundError(_("There is no payment {id}.").format(id=request_id))
        owner, reference = req.created_by, req.reference
        if owner == actor.name:
            if req.read_at is None:
                req.read_at = now()
                record(s, actor, "payment", reference, "mark_read")
            return
        record(s, actor, "payment", reference, "mark_read_refused")  # committed with the refusal
    raise PermissionDenied(
        _("Only {user}, who sent payment {ref}, can mark it as read.").format(
            user=owner, ref=reference
        )
    )


def consolidate(db: Database, actor: Actor, request_id: int) -> None:
    """Konsolidera: the bookkeeper has booked the payment (PAYMENT_MANAGER only)."""
    require_role(db, actor, "consolidate", Role.PAYMENT_MANAGER)
    with db.session() as s:
        req = s.get(PaymentRequest, request_id)
        if req is None:
            raise NotFoundError(_("There is no payment {id}.").format(id=request_id))
        if req.state not in (
            PaymentState.PAID,
            PaymentState.PARTIALLY_REFUNDED,
            PaymentState.REFUNDED,
        ):
            raise DomainError(_("Only a paid payment can be consolidated."))
        if req.consolidated_at is None:
            req.consolidated_at, req.consolidated_by = now(), actor.name
            record(s, actor, "payment", req.reference, "consolidate")


def save_draft(db: Database, actor: Actor, key: str, fields: dict[str, Any]) -> None:
    """Keep a half-filled send form (key "order:1042" or "customer:10017") for later."""
    with db.session() as s:
        draft = s.exec(
            select(PaymentDraft).where(
                PaymentDraft.user_name == actor.name, PaymentDraft.key == key
            )
        ).first()
        if draft is None:
            draft = PaymentDraft(user_name=actor.name, key=key, fields="{}")
            s.add(draft)
        draft.fields = json.dumps(fields, ensure_ascii=False)
        draft.saved_at = now()


def load_draft(db: Database, actor: Actor, key: str) -> dict[str, Any] | None:
    with db.read() as s:
        draft = s.exec(
            select(PaymentDraft).where(
                PaymentDraft.user_name == actor.name, PaymentDraft.key == key
            )
        ).first()
        return json.loads(draft.fields) if draft else None


def discard_draft(db: Database, actor: Actor, key: str) -> None:
    with db.session() as s:
        draft = s.exec(
            select(PaymentDraft).where(
                PaymentDraft.user_name == actor.name, PaymentDraft.key == key
            )
        ).first()
        if draft is not None:
            s.delete(draft)
