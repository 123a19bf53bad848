"""M-Pay: send, check, cancel, capture and refund payment requests — exactly once.

Every provider call is preceded by a committed row (the request in CREATING,
or a PENDING operation) holding the idempotency key that every retry reuses.
When a call's outcome is unknown (timeout, 5xx, dropped reply, crash) the row
stays as it is and ``reconcile()`` (verkstad.mpay.recovery, with the timers)
finishes it by asking the provider — it never creates a second request. All
rules live here and there; the CLI and the TUI only call these functions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from verkstad.audit import record
from verkstad.clock import format_datetime, now
from verkstad.db import Database
from verkstad.errors import ConflictError, DomainError, NotFoundError, ValidationError
from verkstad.failpoints import reach
from verkstad.i18n import _
from verkstad.money import Money, parse_minor
from verkstad.mpay.channels import TransactionType, choose_channel
from verkstad.mpay.models import PaymentChannel, PaymentEvent, PaymentOperation, PaymentRequest
from verkstad.mpay.providers.base import (
    PaymentLine,
    PaymentProvider,
    ProviderRefused,
    ProviderStatus,
    ProviderUnavailable,
)
from verkstad.mpay.providers.base import PaymentRequest as ProviderRequest
from verkstad.mpay.status import LIVE, STATE_LABELS, PaymentState
from verkstad.mpay.views import PaymentView, payment_view
from verkstad.orders import fields as F
from verkstad.orders.models import Customer, Order, OrderLine
from verkstad.orders.service import (
    clear_payment,
    lock_order,
    lock_order_id,
    record_payment,
    transition,
)
from verkstad.orders.status import Action, OrderStatus, PaymentMethod
from verkstad.orders.totals import div_round, line_net
from verkstad.users import Actor, Role, require_role

Providers = Callable[[str], PaymentProvider]
P = PaymentState
PAID_STATES = (P.PAID, P.PARTIALLY_REFUNDED)
ENDED_UNPAID = (P.DECLINED, P.EXPIRED, P.CANCELLED, P.FAILED)
MAX_EXPLANATION = 500
# How long a create whose answer was lost may still land at the provider (a slow provider
# works on after verkstad gave up): until then a lost create is only looked up, and a
# cancel does not conclude that it never arrived.
SETTLE = timedelta(minutes=2)
REFERENCE_ATTEMPTS = 20  # default references tried when other terminals take them meanwhile


def new_key() -> str:
    return uuid.uuid4().hex


# ---------------------------------------------------------------- the send form


@dataclass
class SendForm:
    """The send dialog as typed. None means "the channel's / customer's default"."""

    channel: str | None = None
    sms: bool | None = None
    email: bool | None = None
    reference: str | None = None
    explanation: str = ""
    phone: str | None = None
    email_address: str | None = None
    amount: str | None = None  # only for free requests; an order's is its payable total


def default_reference(at: datetime | None = None) -> str:
    """The date and time of creation, as the seed's systems suggest ("2026-03-05 14:07:09")."""
    from verkstad.clock import local

    return local(at or now()).strftime("%Y-%m-%d %H:%M:%S")


def _free_default_reference(s: Session) -> str:
    """The creation time, with "-2", "-3"… when another request took that second."""
    base = default_reference()
    taken = set(
        s.exec(
            select(PaymentRequest.reference).where(col(PaymentRequest.reference).startswith(base))
        )
    )
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _reference_taken(reference: str) -> ValidationError:
    return ValidationError(
        _("Reference"), _("“{ref}” is already used; it must be unique").format(ref=reference)
    )


def _validated_delivery(
    s: Session, channel: PaymentChannel, customer: Customer, form: SendForm
) -> dict[str, object]:
    sms = channel.sms_enabled if form.sms is None else form.sms
    email = channel.email_enabled if form.email is None else form.email
    if sms and not channel.sms_enabled:
        raise ValidationError(
            _("SMS"), _("is not enabled for the channel {name}").format(name=channel.name)
        )
    if email and not channel.email_enabled:
        raise ValidationError(
            _("E-mail"), _("is not enabled for the channel {name}").format(name=channel.name)
        )
    if not (sms or email) and channel.provider in ("resurs", "stripe"):
        raise ValidationError(_("Delivery"), _("choose SMS, e-mail or both"))
    country = "SE"
    phone_text = form.phone if form.phone is not None else (customer.phone or "")
    phone = (
        F.normalise_phone(phone_text, country)
        if (sms or channel.provider in ("vipps", "swish"))
        else None
    )
    email_text = form.email_address if form.email_address is not None else (customer.email or "")
    address = F.normalise_email(email_text) if email else None
    if form.reference is None:  # free now; one taken meanwhile is replaced at the insert
        reference = _free_default_reference(s)
    else:
        reference = F.clean_text(form.reference, _("Reference"), 100, required=True)
        if s.exec(select(PaymentRequest.id).where(PaymentRequest.reference == reference)).first():
            raise _reference_taken(reference)
    explanation = F.clean_text(form.explanation, _("Explanation"), MAX_EXPLANATION)
    return {
        "send_sms": bool(sms),
        "send_email": bool(email),
        "phone": phone,
        "email": address,
        "reference": reference,
        "explanation": explanation,
    }


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


# ---------------------------------------------------------------- send


def send(
    db: Database,
    providers: Providers,
    actor: Actor,
    order_number: int,
    form: SendForm | None = None,
    expected_version: int | None = None,
    lifetime: timedelta | None = None,
) -> PaymentView:
    """Skicka mobilbetalning (SMS): only for a KLART order, which becomes MOBILBET (locked)."""
    form = form or SendForm()
    with db.session() as s:
        order = lock_order(s, order_number, expected_version)
        assert order.id is not None
        live = _live_request(s, order.id)
        if live is not None:
            raise ConflictError(
                _("A payment request for order {n} was already sent by {user} at {time}.").format(
                    n=order_number, user=live.created_by, time=format_datetime(live.created_at)
                )
            )
        if order.status != OrderStatus.DONE:
            from verkstad.orders.status import next_status

            next_status(
                OrderStatus(order.status), Action.SEND_PAYMENT
            )  # raises with what is allowed
        if order.payment_received:
            raise DomainError(_("Order {n} is already paid.").format(n=order_number))
        if order.total_minor <= 0:
            raise DomainError(_("Order {n} has nothing to pay.").format(n=order_number))
        customer = s.get(Customer, order.customer_id)
        assert customer is not None
        channel = choose_channel(s, actor, TransactionType.RECEIVE, form.channel)
        req = _new_request(
            s, actor, channel, customer, form, order.total_minor, order.currency, lifetime
        )
        req.order_id = order.id
        s.flush()
        transition(
            s,
            actor,
            order,
            Action.SEND_PAYMENT,
            _("payment request {ref}").format(ref=req.reference),
        )
        request_id = req.id
    assert request_id is not None
    reach("send.after_commit")
    return _deliver(db, providers, actor, request_id, first_attempt=True)


def request_payment(
    db: Database, providers: Providers, actor: Actor, customer_number: int, form: SendForm
) -> PaymentView:
    """A free payment request from the customer card (a deposit), not tied to an order."""
    amount = parse_minor(form.amount or "", field=_("Amount"), allow_zero=False)
    with db.session() as s:
        customer = s.exec(select(Customer).where(Customer.number == customer_number)).first()
        if customer is None:
            raise NotFoundError(_("There is no customer number {n}.").format(n=customer_number))
        from verkstad.orders.service import company_row

        channel = choose_channel(s, actor, TransactionType.RECEIVE, form.channel)
        req = _new_request(s, actor, channel, customer, form, amount, company_row(s).currency, None)
        request_id = req.id
    assert request_id is not None
    reach("send.after_commit")
    return _deliver(db, providers, actor, request_id, first_attempt=True)


def _new_request(
    s: Session,
    actor: Actor,
    channel: PaymentChannel,
    customer: Customer,
    form: SendForm,
    amount: int,
    currency: str,
    lifetime: timedelta | None,
) -> PaymentRequest:
    assert channel.id is not None and customer.id is not None
    delivery = _validated_delivery(s, channel, customer, form)
    for _attempt in range(REFERENCE_ATTEMPTS):
        req = PaymentRequest(
            idempotency_key=new_key(),
            customer_id=customer.id,
            channel_id=channel.id,
            provider=channel.provider,
            state=P.CREATING,
            amount_minor=amount,
            currency=currency,
            expires_at=now() + (lifetime or timedelta(minutes=channel.link_lifetime_minutes)),
            created_by=actor.name,
            **delivery,  # type: ignore[arg-type]
        )
        try:
            with s.begin_nested():
                s.add(req)
                s.flush()
        except IntegrityError:
            # Another terminal committed the same reference after we checked it.
            reference = str(delivery["reference"])
            if not s.exec(
                select(PaymentRequest.id).where(PaymentRequest.reference == reference)
            ).first():
                raise
            if form.reference is not None:
                raise _reference_taken(reference) from None
            delivery["reference"] = _free_default_reference(s)
            continue
        break
    else:
        raise ConflictError(_("Too many payment requests at once; send again."))
    _event(
        s,
        req,
        actor,
        "created",
        _("{amount} to {to}").format(
            amount=Money(amount, currency).format(), to=req.phone or req.email or ""
        ),
    )
    record(
        s,
        actor,
        "payment",
        req.reference,
        "create",
        None,
        {"amount_minor": amount, "channel": channel.name},
    )
    return req


def _deliver(
    db: Database, providers: Providers, actor: Actor, request_id: int, first_attempt: bool
) -> PaymentView:
    """Get a CREATING request to the provider (create, or find what a lost reply left there)."""
    with db.read() as s:
        req = s.get(PaymentRequest, request_id)
        assert req is not None
        if req.state != P.CREATING:
            return _view(s, req)
        wire = _provider_request(s, req)
        provider_name = req.provider
        cancelling = _pending(s, req, "cancel") is not None
        last_attempt = req.updated_at
    provider = providers(provider_name)
    try:
        status = None if first_attempt else provider.lookup(wire)
        if status is None and cancelling:  # staff are cancelling it: never send it now
            with db.read() as s:
                req = s.get(PaymentRequest, request_id)
                assert req is not None
                return _view(s, req)
        if status is None and not first_attempt and not provider.idempotent_create:
            if now() - last_attempt < SETTLE:
                raise DomainError(
                    _(
                        "{provider} has not confirmed payment request {ref} yet. verkstad asks "
                        "again shortly and sends it anew only once it is sure it never "
                        "arrived; do not send it again."
                    ).format(provider=provider_name.capitalize(), ref=wire.reference)
                )
        if status is None:
            status = provider.create(wire)
    except ProviderRefused as refusal:
        with db.session() as s:
            req = _request_for_update(s, request_id)
            before = req.state
            req.state = P.FAILED
            req.failure_reason = str(refusal)
            req.ended_at = now()
            _event(s, req, actor, "refused", str(refusal), {"code": refusal.code})
            record(s, actor, "payment", req.reference, "refused", before, req.state, str(refusal))
            if req.order_id:
                order = lock_order_id(s, req.order_id)
                if order.status == OrderStatus.MPAY:
                    transition(s, actor, order, Action.CANCEL_PAYMENT, str(refusal))
        raise DomainError(str(refusal)) from None  # the adapters' messages say it plainly
    except ProviderUnavailable as unknown:
        with db.session() as s:
            req = _request_for_update(s, request_id)
            req.updated_at = now()  # the attempt that may still land
            _event(s, req, actor, "unknown_outcome", str(unknown))
        raise DomainError(
            _(
                "The payment provider did not answer ({detail}). The request is kept and will be "
                "checked with the provider; do not send it again."
            ).format(detail=unknown)
        ) from None
    reach("send.after_provider")
    with db.session() as s:
        req = _request_for_update(s, request_id)
        if req.state == P.CREATING:
            apply_status(s, actor, req, status, "sent")
            _notify_link(s, req)
        return _view(s, req)


def _notify_link(s: Session, req: PaymentRequest) -> None:
    """Providers that only hand out a link (Stripe) leave texting/e-mailing it to us: queue it."""
    if req.link is None or req.provider in ("resurs", "vipps", "swish"):
        return
    from verkstad.mpay.notify import queue_payment_link

    queue_payment_link(s, req)


# ---------------------------------------------------------------- check


def check(db: Database, providers: Providers, actor: Actor, order_number: int) -> PaymentView:
    """Kontrollera mobilbetalning: ask the provider and record what it says."""
    with db.read() as s:
        order = s.exec(select(Order).where(Order.number == order_number)).first()
        if order is None:
            raise NotFoundError(_("There is no order number {n}.").format(n=order_number))
        assert order.id is not None
        req = _latest_request(s, order.id)
        if req is None:
            raise DomainError(
                _("No payment request has been sent for order {n}.").format(n=order_number)
            )
        request_id = req.id
    assert request_id is not None
    return refresh(db, providers, actor, request_id)


def refresh(db: Database, providers: Providers, actor: Actor, request_id: int) -> PaymentView:
    """Ask the provider about one request and apply the answer (check, polling, callbacks)."""
    with db.read() as s:
        req = s.get(PaymentRequest, request_id)
        if req is None:
            raise NotFoundError(_("There is no payment {id}.").format(id=request_id))
        if req.state == P.CREATING:
            ref = None
        else:
            ref = req.provider_ref
        provider_name = req.provider
    if ref is None:
        return _deliver(db, providers, actor, request_id, first_attempt=False)
    try:
        status = providers(provider_name).status(ref)
    except ProviderUnavailable as e:
        raise DomainError(
            _("The payment provider did not answer: {detail}").format(detail=e)
        ) from None
    return _take_answer(db, providers, actor, request_id, status)


def _take_answer(
    db: Database, providers: Providers, actor: Actor, request_id: int, status: ProviderStatus
) -> PaymentView:
    """Apply what the provider answered about a request (and finish what that queues)."""
    reach("check.after_provider")
    with db.session() as s:
        req = _request_for_update(s, request_id)
        if status.state == P.EXPIRED and _pending(s, req, "cancel"):
            status = replace(status, state=P.CANCELLED)  # staff's cancellation, not finished yet
        before = _pending_operations(s, request_id)
        apply_status(s, actor, req, status)
        queued = _pending_operations(s, request_id) - before
        view = _view(s, req, with_events=True)
    if not queued:
        return view
    _run_operations(db, providers, actor, sorted(queued))  # a late payment: give it back now
    with db.read() as s:
        again = s.get(PaymentRequest, request_id)
        assert again is not None
        return _view(s, again, with_events=True)


def _pending_operations(s: Session, request_id: int) -> set[tuple[int, str]]:
    return {
        (o.id or 0, o.kind)
        for o in s.exec(
            select(PaymentOperation).where(
                PaymentOperation.request_id == request_id, PaymentOperation.state == "PENDING"
            )
        )
    }


# ---------------------------------------------------------------- cancel / capture / refund


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


def _is_latest(s: Session, req: PaymentRequest) -> bool:
    latest = _latest_request(s, req.order_id or 0)
    return latest is not None and latest.id == req.id


def cancelling(s: Session, order_id: int) -> bool:
    """Whether a cancellation of the order's payment request is under way (committed, not
    finished): it refunds the customer if they paid, so nothing may book the payment meanwhile."""
    req = _latest_request(s, order_id)
    return req is not None and _pending(s, req, "cancel") is not None


def _fail_operation(db: Database, actor: Actor, op_id: int, request_id: int, error: str) -> None:
    with db.session() as s:
        _end_operation(s, op_id, error)
        _event(s, _request_for_update(s, request_id), actor, "cancel_refused", error)


def _as_state(status: ProviderStatus, seen: PaymentState, meant: PaymentState) -> ProviderStatus:
    """What the provider calls ``seen`` is ``meant`` here (we know why it ended)."""
    return replace(status, state=meant) if status.state == seen else status


def _pending(s: Session, req: PaymentRequest, kind: str) -> int | None:
    op = s.exec(
        select(PaymentOperation).where(
            PaymentOperation.request_id == req.id,
            PaymentOperation.kind == kind,
            PaymentOperation.state == "PENDING",
        )
    ).first()
    return op.id if op else None


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
            _end_operation(s, op_id, str(e))
            _event(s, _request_for_update(s, call.request_id), actor, "capture_refused", str(e))
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


# ---------------------------------------------------------------- manual mobile payment


def record_manual(db: Database, actor: Actor, order_number: int, note: str) -> None:
    """Registrera manuell mobilbetalning: Swish/Vipps to the company number, confirmed by staff."""
    text = F.clean_text(note, _("Note"), 500, required=True)
    with db.session() as s:
        order = lock_order(s, order_number)
        if order.status != OrderStatus.DONE:
            raise DomainError(
                _(
                    "A manual mobile payment can be registered on a KLART order "
                    "(order {n} is {status})."
                ).format(n=order_number, status=order.status)
            )
        if order.payment_received:
            raise DomainError(_("Order {n} is already paid.").format(n=order_number))
        record_payment(s, actor, order, PaymentMethod.MANUELL_MOBIL, now(), text)
