"""M-Pay operations on a sent request: cancel (which refunds if it was paid), capture, refund.

Each is committed as a PENDING operation holding the idempotency key every retry reuses,
then the provider is called. ``_run_operations`` finishes those a crash or a lost reply
left open (``reconcile`` in verkstad.mpay.recovery, a late payment found by a check).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlmodel import Session, select

from verkstad.audit import record
from verkstad.clock import now
from verkstad.db import Database
from verkstad.errors import DomainError, NotFoundError, ValidationError
from verkstad.failpoints import reach
from verkstad.i18n import _
from verkstad.money import Money, parse_minor
from verkstad.mpay.answers import apply_status
from verkstad.mpay.models import PaymentOperation, PaymentRequest
from verkstad.mpay.providers.base import ProviderRefused, ProviderStatus, ProviderUnavailable
from verkstad.mpay.rows import (
    PAID_STATES,
    SETTLE,
    P,
    Providers,
    _event,
    _is_latest,
    _latest_request,
    _operation,
    _pending,
    _provider_request,
    _request_for_update,
    _view,
)
from verkstad.mpay.status import LIVE, STATE_LABELS, PaymentState
from verkstad.mpay.views import PaymentView
from verkstad.orders import fields as F
from verkstad.orders.models import Order
from verkstad.orders.service import clear_payment, lock_order, lock_order_id, transition
from verkstad.orders.status import Action, OrderStatus, PaymentMethod
from verkstad.users import Actor, Role, require_role


def cancel(db: Database, providers: Providers, actor: Actor, order_number: int) -> PaymentView:
    """Annullera betalnings-SMS / Öppna order: kill the link, refund if paid, back to KLART."""
    with db.session() as s:
        order = lock_order(s, order_number)
        assert order.id is not None
        if order.status != OrderStatus.MPAY:
            from verkstad.orders.status import next_status

            next_status(OrderStatus(order.status), Action.CANCEL_PAYMENT)
        req = _latest_request(s, order.id)
        if req is None:  # cannot happen through the services; heal rather than trap the order
            transition(s, actor, order, Action.CANCEL_PAYMENT, _("no payment request"))
            raise DomainError(
                _("Order {n} had no payment request; it is open again.").format(n=order_number)
            )
        op_id = _pending(s, req, "cancel") or _operation(s, actor, req, "cancel")
    reach("cancel.after_commit")
    return _run_cancel(db, providers, actor, op_id)


def cancel_request(
    db: Database, providers: Providers, actor: Actor, request_id: int
) -> PaymentView:
    """Cancel an open request from the payments list. A free request (a deposit asked from the
    customer card) just stops working; an order's request is cancelled as the order's, which
    opens the order again."""
    with db.session() as s:
        req = s.exec(
            select(PaymentRequest)
            .where(PaymentRequest.id == request_id)
            .with_for_update(key_share=True)
        ).first()
        if req is None:
            raise NotFoundError(_("There is no payment {id}.").format(id=request_id))
        state = PaymentState(req.state)
        if state not in LIVE:
            raise DomainError(
                _("Payment {ref} is {state}; only an open request can be cancelled.").format(
                    ref=req.reference, state=_(STATE_LABELS[state])
                )
            )
        order = s.get(Order, req.order_id) if req.order_id else None
        op_id = None if order else _pending(s, req, "cancel") or _operation(s, actor, req, "cancel")
    if order is not None:
        return cancel(db, providers, actor, order.number)
    assert op_id is not None
    reach("cancel.after_commit")
    return _run_cancel(db, providers, actor, op_id)


def _run_cancel(db: Database, providers: Providers, actor: Actor, op_id: int) -> PaymentView:
    with db.read() as s:
        op = s.get(PaymentOperation, op_id)
        assert op is not None
        request_id = op.request_id  # read now: the read session expires what it loaded
        req = s.get(PaymentRequest, request_id)
        assert req is not None
        wire = _provider_request(s, req)
        ref, provider_name, key = req.provider_ref, req.provider, op.idempotency_key
        last_attempt = req.updated_at
    provider = providers(provider_name)
    try:
        status = provider.status(ref) if ref else provider.lookup(wire)
        if status is None and now() - last_attempt < SETTLE:
            raise DomainError(
                _(
                    "Payment request {ref} may still be on its way to the provider (its answer "
                    "was lost). The order stays locked until that is certain; try again in two "
                    "minutes."
                ).format(ref=wire.reference)
            )
        if status is not None and status.state == P.EXPIRED:
            # Staff asked to cancel a request verkstad held live: ended before or by our
            # call (a crash after it, Stripe expiring on cancel), it is their cancellation.
            status = replace(status, state=P.CANCELLED)
        if status is not None and status.state in LIVE:
            try:
                # Stripe ends a link by expiring it; we asked, so it is a cancellation.
                status = _as_state(
                    provider.cancel(status.provider_ref, key), P.EXPIRED, P.CANCELLED
                )
            except ProviderRefused as refusal:
                status = provider.status(status.provider_ref)  # e.g. paid a second ago
                if status.state in LIVE:  # e.g. Vipps "Cannot cancel pending": still usable
                    _fail_operation(db, actor, op_id, request_id, str(refusal))
                    raise DomainError(
                        _(
                            "The provider cannot cancel the request right now ({reason}). "
                            "The order stays locked; try again in a moment."
                        ).format(reason=refusal)
                    ) from None
        reach("cancel.after_provider")
        while status is not None and status.state in PAID_STATES:
            # What is still to refund is counted under the request's lock: another terminal
            # may be refunding it right now (a return, or the same cancel pressed twice).
            with db.session() as s:
                req = _request_for_update(s, request_id)
                apply_status(s, actor, req, status)
                refund_id = _pending(s, req, "refund")
                due = req.captured_minor - req.refunded_minor
                if refund_id is None and due > 0:
                    why = _("cancelled after payment")
                    refund_id = _operation(s, actor, req, "refund", due, why)
            if refund_id is None:
                break
            reach("cancel.after_refund_commit")
            status = _run_refund_call(db, providers, actor, refund_id)
    except ProviderUnavailable as e:
        with db.session() as s:
            _event(s, _request_for_update(s, request_id), actor, "unknown_outcome", str(e))
        raise DomainError(
            _(
                "The payment provider did not answer ({detail}). The order stays locked until the "
                "cancellation is confirmed; try again."
            ).format(detail=e)
        ) from None
    with db.session() as s:
        req = _request_for_update(s, request_id)
        if status is None:  # the provider never got it: nothing to cancel there
            why = _("never reached the provider")
            record(s, actor, "payment", req.reference, "cancelled", req.state, P.CANCELLED, why)
            req.state = P.CANCELLED
            req.ended_at = now()
            _event(s, req, actor, "cancelled", why)
        else:
            apply_status(s, actor, req, status, "cancelled")
        _end_operation(s, op_id)
        order = lock_order_id(s, req.order_id) if req.order_id else None
        if order is not None and _is_latest(s, req):  # a late one's undoing leaves it be
            if order.payment_received and order.payment_method == PaymentMethod.MOBIL:
                clear_payment(s, actor, order, _("refunded on cancellation"))
            if order.status == OrderStatus.MPAY:
                transition(s, actor, order, Action.CANCEL_PAYMENT, _("payment request cancelled"))
        return _view(s, req)


def cancelling(s: Session, order_id: int) -> bool:
    """Whether a cancellation of the order's payment request is under way (committed, not
    finished): it refunds the customer if they paid, so nothing may book the payment meanwhile."""
    req = _latest_request(s, order_id)
    return req is not None and _pending(s, req, "cancel") is not None


def _fail_operation(db: Database, actor: Actor, op_id: int, request_id: int, error: str) -> None:
    with db.session() as s:
        req = _request_for_update(s, request_id)  # the request first, as everywhere
        _end_operation(s, op_id, error)
        _event(s, req, actor, "cancel_refused", error)


def _as_state(status: ProviderStatus, seen: PaymentState, meant: PaymentState) -> ProviderStatus:
    """What the provider calls ``seen`` is ``meant`` here (we know why it ended)."""
    return replace(status, state=meant) if status.state == seen else status


@dataclass(frozen=True)
class _Call:
    """What a committed operation needs for its provider call."""

    request_id: int
    provider: str
    ref: str
    key: str
    amount: Money


def _call_of(db: Database, op_id: int) -> _Call:
    with db.read() as s:
        op = s.get(PaymentOperation, op_id)
        assert op is not None
        req = s.get(PaymentRequest, op.request_id)
        assert req is not None and req.provider_ref is not None
        return _Call(
            op.request_id,
            req.provider,
            req.provider_ref,
            op.idempotency_key,
            Money(op.amount_minor, req.currency),
        )


def _end_operation(s: Session, op_id: int, error: str | None = None) -> None:
    """DONE, or FAILED with the provider's reason."""
    operation = s.get(PaymentOperation, op_id)
    assert operation is not None
    operation.state, operation.error, operation.done_at = (
        "FAILED" if error else "DONE",
        error,
        now(),
    )


def _run_refund_call(
    db: Database, providers: Providers, actor: Actor, op_id: int
) -> ProviderStatus:
    """A committed refund's provider call. Its answer and the operation's end are recorded
    together: no one may see the refund done but the money not yet counted as returned."""
    call = _call_of(db, op_id)
    try:
        status = providers(call.provider).refund(call.ref, call.amount, call.key)
    except ProviderRefused as refusal:
        with db.session() as s:
            _end_operation(s, op_id, str(refusal))
        raise
    reach("refund.after_provider")
    with db.session() as s:
        apply_status(s, actor, _request_for_update(s, call.request_id), status, "refunded")
        _end_operation(s, op_id)
    return status


def capture(db: Database, providers: Providers, actor: Actor, order_number: int) -> PaymentView:
    """Fånga reserverad betalning: take the whole reserved amount now."""
    with db.session() as s:
        order = lock_order(s, order_number)
        assert order.id is not None
        req = _latest_request(s, order.id)
        if req is None or req.state != P.RESERVED:
            raise DomainError(
                _("Order {n} has no reserved payment to capture.").format(n=order_number)
            )
        op_id = _operation(s, actor, req, "capture", req.amount_minor - req.captured_minor)
    reach("capture.after_commit")
    return _run_capture(db, providers, actor, op_id)


def _run_capture(db: Database, providers: Providers, actor: Actor, op_id: int) -> PaymentView:
    call = _call_of(db, op_id)
    try:
        status = providers(call.provider).capture(call.ref, call.amount, call.key)
    except ProviderRefused as e:
        with db.session() as s:
            req = _request_for_update(s, call.request_id)  # the request first, as everywhere
            _end_operation(s, op_id, str(e))
            _event(s, req, actor, "capture_refused", str(e))
        raise DomainError(_("The capture was refused: {reason}").format(reason=e)) from None
    except ProviderUnavailable as e:
        raise DomainError(
            _(
                "The payment provider did not answer ({detail}); "
                "the capture will be confirmed with it."
            ).format(detail=e)
        ) from None
    reach("capture.after_provider")
    with db.session() as s:
        req = _request_for_update(s, call.request_id)
        apply_status(s, actor, req, status, "captured")
        _end_operation(s, op_id)
        return _view(s, req)


def refund(
    db: Database,
    providers: Providers,
    actor: Actor,
    request_id: int,
    amount_text: str | None = None,
    note: str = "",
) -> PaymentView:
    """Återbetala: all or part of what was captured (returns of some lines), never more.

    Staff may refund up to the books' ``refund.staff_limit``; above it a payment
    manager or an admin must do it.
    """
    if actor.role == Role.STAFF:
        _check_staff_refund_limit(db, actor, request_id, amount_text)
    with db.session() as s:
        req = _request_for_update(s, request_id)
        if req.state not in PAID_STATES:
            raise DomainError(
                _("Payment {ref} is not paid; there is nothing to refund.").format(
                    ref=req.reference
                )
            )
        pending = s.exec(
            select(PaymentOperation.amount_minor).where(
                PaymentOperation.request_id == req.id,
                PaymentOperation.kind == "refund",
                PaymentOperation.state == "PENDING",
            )
        ).all()
        left = req.captured_minor - req.refunded_minor - sum(pending)  # not what is under way
        amount = (
            left
            if not amount_text
            else parse_minor(amount_text, field=_("Refund amount"), allow_zero=False)
        )
        if amount > left:
            raise ValidationError(
                _("Refund amount"),
                _("at most {amount} can be refunded").format(
                    amount=Money(left, req.currency).format()
                ),
            )
        op_id = _operation(s, actor, req, "refund", amount, F.clean_text(note, _("Note"), 500))
    reach("refund.after_commit")
    try:
        _run_refund_call(db, providers, actor, op_id)
    except ProviderRefused as e:
        raise DomainError(_("The refund was refused: {reason}").format(reason=e)) from None
    except ProviderUnavailable as e:
        raise DomainError(
            _(
                "The payment provider did not answer ({detail}); "
                "the refund will be confirmed with it."
            ).format(detail=e)
        ) from None
    with db.read() as s:
        refunded = s.get(PaymentRequest, request_id)
        assert refunded is not None
        return _view(s, refunded)


def _check_staff_refund_limit(
    db: Database, actor: Actor, request_id: int, amount_text: str | None
) -> None:
    from verkstad.ledger.accounts import setting

    with db.read() as s:
        req = s.get(PaymentRequest, request_id)
        if req is None:
            raise NotFoundError(_("There is no payment {id}.").format(id=request_id))
        left = req.captured_minor - req.refunded_minor
        limit = int(setting(s, "refund.staff_limit"))
        currency = req.currency
    amount = left if not amount_text else parse_minor(amount_text, field=_("Refund amount"))
    if amount > limit:
        require_role(
            db,
            actor,
            "refund_above_limit",
            Role.PAYMENT_MANAGER,
            Role.ADMIN,
            message=_("Refunds above {limit} need a payment manager or an administrator.").format(
                limit=Money(limit, currency).format()
            ),
        )


@dataclass
class ReconcileReport:
    created: int = 0  # CREATING requests settled with the provider
    operations: int = 0  # pending cancel/capture/refund finished
    refreshed: int = 0
    errors: list[str] = field(default_factory=list)


def _run_operations(
    db: Database,
    providers: Providers,
    actor: Actor,
    operations: list[tuple[int, str]],
    report: ReconcileReport | None = None,
) -> None:
    """Finish pending cancels, captures and refunds (their keys make a repeat harmless)."""
    report = report or ReconcileReport()
    for op_id, kind in operations:
        try:
            if kind == "cancel":
                _run_cancel(db, providers, actor, op_id)
            elif kind == "capture":
                _run_capture(db, providers, actor, op_id)
            else:
                _finish_refund(db, providers, actor, op_id)
            report.operations += 1
        except DomainError as e:
            report.errors.append(str(e))


def _finish_refund(db: Database, providers: Providers, actor: Actor, op_id: int) -> None:
    _run_refund_call(db, providers, actor, op_id)
