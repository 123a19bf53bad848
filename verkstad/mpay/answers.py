"""Taking a provider's answer about a payment request, and letting its order follow.

``apply_status`` is the one place an answer is applied (send, check, polling, callbacks,
the operations, recovery). An answer older than one already applied is ignored; money
that moves on a request nobody waits for any more is given back (or pays a posted
invoice), not booked on the order.
"""

from __future__ import annotations

from sqlmodel import Session

from verkstad.audit import record
from verkstad.clock import now
from verkstad.i18n import _
from verkstad.mpay.models import PaymentRequest
from verkstad.mpay.providers.base import ProviderStatus
from verkstad.mpay.rows import (
    ENDED_UNPAID,
    PAID_STATES,
    P,
    _event,
    _is_latest,
    _latest_request,
    _operation,
    _pending,
)
from verkstad.mpay.status import LIVE, PaymentState
from verkstad.orders.models import Order
from verkstad.orders.service import lock_order_id, record_payment, transition
from verkstad.orders.status import Action, OrderStatus, PaymentMethod
from verkstad.users import Actor


def apply_status(
    s: Session, actor: Actor, req: PaymentRequest, status: ProviderStatus, kind: str = "status"
) -> None:
    """Take over what the provider says, and let the order follow (paid / back to KLART).

    A request that already ended unpaid keeps how it ended (our CANCELLED stays
    CANCELLED when the provider calls it EXPIRED); money that moved always wins.
    """
    before = PaymentState(req.state)
    if before in ENDED_UNPAID and status.state in ENDED_UNPAID:
        return
    if _stale(req, before, status):
        return
    # The order is locked before anything is decided about it: only under its lock is it
    # certain which request it waits for (another terminal may be sending anew).
    order = lock_order_id(s, req.order_id) if req.order_id else None
    if _late(s, req, before, status):
        _undo_late(s, actor, req, before, status)
        return
    req.state = status.state
    req.provider_ref = status.provider_ref or req.provider_ref
    req.link = status.link or req.link
    req.method = status.method or req.method
    req.captured_minor = status.captured_minor
    req.refunded_minor = status.refunded_minor
    req.failure_reason = status.reason if status.state in ENDED_UNPAID else req.failure_reason
    req.failed_attempts = max(req.failed_attempts, status.failed_attempts)
    req.updated_at = now()
    if status.state != P.CREATING and req.sent_at is None:
        req.sent_at = now()
    if status.state == P.RESERVED and req.reserved_at is None:
        req.reserved_at = now()
    if status.state in PAID_STATES and req.paid_at is None:
        req.paid_at = status.paid_at or now()
    if status.state not in LIVE and req.ended_at is None:
        req.ended_at = now()
    if before != status.state:
        record(s, actor, "payment", req.reference, kind, before.value, status.state.value)
    if before != status.state or kind != "status":
        _event(s, req, actor, kind, status.reason or "", status.raw)
    if order is None or not _is_latest(s, req):  # an older request leaves the order be
        return
    if status.state in PAID_STATES and not order.payment_received:
        assert req.paid_at is not None
        record_payment(
            s,
            actor,
            order,
            PaymentMethod.MOBIL,
            req.paid_at,
            _("payment request {ref}").format(ref=req.reference),
        )
    if (
        status.state in ENDED_UNPAID
        and order.status == OrderStatus.MPAY
        and not order.payment_received
    ):
        transition(
            s,
            actor,
            order,
            Action.CANCEL_PAYMENT,
            _("payment request {state}").format(state=status.state.value),
        )


# How far the money has got; a provider's answer never goes back along it.
PROGRESS = {P.RESERVED: 1, P.PAID: 2, P.PARTIALLY_REFUNDED: 3, P.REFUNDED: 4}


def _stale(req: PaymentRequest, before: PaymentState, status: ProviderStatus) -> bool:
    """An answer older than one already applied: two terminals asked the provider at once
    (or a check crossed a capture or refund) and the later answer was recorded first."""
    if before in ENDED_UNPAID or status.state in ENDED_UNPAID:
        return False
    return (
        PROGRESS.get(status.state, 0) < PROGRESS.get(before, 0)
        or status.captured_minor < req.captured_minor
        or status.refunded_minor < req.refunded_minor
    )


def _late(s: Session, req: PaymentRequest, before: PaymentState, status: ProviderStatus) -> bool:
    """Money reserved or paid (or a link open) on a request nobody waits for any more: one
    verkstad had ended (cancelled while its create was still on the way), or one whose order
    has moved on (opened again, posted another way, sent anew). It is given back, not booked.
    """
    if status.state not in (P.RESERVED, *PAID_STATES) and not (
        before in ENDED_UNPAID and status.state in LIVE
    ):
        return False
    if before in ENDED_UNPAID:
        return True
    order = s.get(Order, req.order_id) if req.order_id else None
    if order is None or (before == P.RESERVED and status.state == P.RESERVED):
        return False
    waiting = order.status == OrderStatus.MPAY or (
        order.payment_received and order.payment_method == PaymentMethod.MOBIL
    )
    latest = _latest_request(s, order.id or 0)
    return not waiting or latest is None or latest.id != req.id


def _undo_late(
    s: Session, actor: Actor, req: PaymentRequest, before: PaymentState, status: ProviderStatus
) -> None:
    """Record what the provider holds and settle it. A posted FAKTURA invoice that still asks
    exactly this much takes it as its payment (a reservation is captured for it first: the
    customer meant to pay); anything else is given back — a refund of what was paid, a cancel
    of what is reserved or still open. The order is otherwise left as it is."""
    from verkstad.ledger.receipts import book_mobile_invoice_payment, invoice_waits_for

    req.provider_ref = status.provider_ref or req.provider_ref
    req.updated_at = now()
    order = s.get(Order, req.order_id) if req.order_id else None
    kind, amount = "cancel", 0
    why = _("still open at the provider after the request had ended; cancelled there")
    if status.state in PAID_STATES:
        req.state = status.state
        req.captured_minor, req.refunded_minor = status.captured_minor, status.refunded_minor
        req.paid_at = req.paid_at or status.paid_at or now()
        req.method = status.method or req.method
        kind, amount = "refund", status.captured_minor - status.refunded_minor
        why = _("paid after the request had ended; refunded automatically")
        if order is not None and invoice_waits_for(s, order, amount):
            book_mobile_invoice_payment(s, actor, order, amount, req.paid_at, req.reference)
            kind, amount = "", 0
            why = _("paid after the request had ended; taken as the payment of invoice {n}")
            why = why.format(n=order.invoice_number)
    elif status.state == P.RESERVED and order is not None:
        if invoice_waits_for(s, order, req.amount_minor):
            kind, amount = "capture", req.amount_minor
            why = _("reserved after the request had ended; captured to pay invoice {n}").format(
                n=order.invoice_number
            )
    action = "late_" + status.state.value.lower()
    record(s, actor, "payment", req.reference, action, before.value, req.state, why)
    _event(s, req, actor, "late", why, status.raw)
    if kind and not _pending(s, req, kind):
        _operation(s, actor, req, kind, amount, why)
