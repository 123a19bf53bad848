"""M-Pay payment requests: the send form, sending one (for a KLART order, or a free one from
the customer card), checking it with the provider, and the manual mobile payment.

A request is committed in CREATING, with the idempotency key every retry reuses, before the
provider is called; a create whose outcome is unknown is only looked up until it is certain
it never arrived (``SETTLE``), never sent a second time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from verkstad.mpay.answers import apply_status
from verkstad.mpay.channels import TransactionType, choose_channel
from verkstad.mpay.models import PaymentChannel, PaymentOperation, PaymentRequest
from verkstad.mpay.operations import _run_operations
from verkstad.mpay.providers.base import ProviderRefused, ProviderStatus, ProviderUnavailable
from verkstad.mpay.rows import (
    SETTLE,
    P,
    Providers,
    _event,
    _latest_request,
    _live_request,
    _pending,
    _provider_request,
    _request_for_update,
    _view,
    new_key,
)
from verkstad.mpay.views import PaymentView
from verkstad.orders import fields as F
from verkstad.orders.models import Customer, Order
from verkstad.orders.service import lock_order, lock_order_id, record_payment, transition
from verkstad.orders.status import Action, OrderStatus, PaymentMethod
from verkstad.users import Actor

MAX_EXPLANATION = 500
REFERENCE_ATTEMPTS = 20  # default references tried when other terminals take them meanwhile


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
