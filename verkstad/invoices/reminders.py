"""Payment reminders for invoices paid later (FAKTURA, posted, not paid).

Level *n* is due ``days_after_due[n-1]`` days after the invoice's due date, at
``hour`` in the workshop's time zone, and never sooner after the previous
reminder than the schedule's own spacing. Only the highest level due is sent
(after downtime: one reminder, not a burst), and a level is sent at most once:
its row has a unique key and is written with the outbox message, under the
order's row lock, after the payment was checked again — the order's own
fields and, for an order with mobile payment requests, the provider.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from verkstad.audit import record
from verkstad.clock import format_date, local, now, workshop_zone
from verkstad.config import RemindersSettings
from verkstad.db import Database
from verkstad.errors import DomainError
from verkstad.i18n import N_, translation_for
from verkstad.invoices.models import InvoiceReminder
from verkstad.invoices.ocr import payment_reference
from verkstad.ledger.accounts import setting
from verkstad.ledger.models import Verification
from verkstad.ledger.receipts import left_to_pay
from verkstad.money import Money
from verkstad.mpay.gateway import Providers
from verkstad.mpay.models import PaymentRequest
from verkstad.mpay.notify import Attachment, queue
from verkstad.mpay.status import PaymentState
from verkstad.mpay.templates import REMINDER, render
from verkstad.orders.categories import order_category
from verkstad.orders.models import Customer, Order
from verkstad.orders.service import company_row, lock_order
from verkstad.orders.status import OrderStatus, PaymentMethod
from verkstad.users import SYSTEM, Actor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueReminder:
    order_number: int
    invoice_number: int
    level: int
    due: date  # the invoice's due date
    amount_minor: int  # left to pay (the fee is not included)
    currency: str


def dedupe_key(invoice_number: int, level: int) -> str:
    return f"reminder:{invoice_number}:{level}"


def due_date(s: Session, order: Order) -> date:
    """The invoice date plus the payment terms, as the invoice PDF states it."""
    issued = s.exec(
        select(col(Verification.booked_on)).where(
            Verification.order_id == order.id,
            Verification.kind == "invoice",
            Verification.document_number == order.invoice_number,
        )
    ).one()
    return issued + timedelta(days=int(setting(s, "invoice.terms_days")))


def _send_time(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=workshop_zone()).astimezone(UTC)


def _remindable(s: Session, order: Order) -> bool:
    return (
        order.status == OrderStatus.POSTED
        and order.payment_method == PaymentMethod.FAKTURA
        and not order.payment_received
        and order.invoice_number is not None
        and left_to_pay(s, order) > 0
    )


def level_due(s: Session, order: Order, at: datetime, schedule: RemindersSettings) -> int | None:
    """The highest level due at ``at`` above every level already sent (None: nothing due)."""
    days = schedule.days_after_due
    last = s.exec(
        select(InvoiceReminder)
        .where(InvoiceReminder.order_id == order.id)
        .order_by(col(InvoiceReminder.level).desc())
    ).first()
    done = last.level if last else 0
    due = due_date(s, order)
    found = None
    for level in range(done + 1, len(days) + 1):
        day = due + timedelta(days=days[level - 1])
        if last is not None:  # keep the schedule's spacing after a late (caught-up) reminder
            spacing = timedelta(days=days[level - 1] - days[done - 1])
            day = max(day, local(last.sent_at).date() + spacing)
        if _send_time(day, schedule.hour) <= at:
            found = level
    return found


def reminders_due(db: Database, at: datetime, schedule: RemindersSettings) -> list[DueReminder]:
    """The reminders to send at ``at``: one per unpaid invoice at most, its highest due level."""
    out = []
    with db.read() as s:
        orders = s.exec(
            select(Order)
            .where(
                Order.status == OrderStatus.POSTED,
                Order.payment_method == PaymentMethod.FAKTURA,
                col(Order.payment_received).is_(False),
            )
            .order_by(col(Order.number))
        )
        for order in orders:
            level = level_due(s, order, at, schedule) if _remindable(s, order) else None
            if level is not None:
                assert order.invoice_number is not None
                out.append(
                    DueReminder(
                        order.number,
                        order.invoice_number,
                        level,
                        due_date(s, order),
                        left_to_pay(s, order),
                        order.currency,
                    )
                )
    return out


def _unpaid_at_providers(db: Database, providers: Providers, actor: Actor, order_id: int) -> bool:
    """Ask the provider about every mobile payment request of the order; a payment found is
    recorded on the order. False when a provider cannot be asked (try again next time)."""
    from verkstad.mpay.service import refresh

    with db.read() as s:
        ids = s.exec(
            select(PaymentRequest.id).where(
                PaymentRequest.order_id == order_id,
                col(PaymentRequest.provider_ref).is_not(None),
                PaymentRequest.state != PaymentState.CREATING,
            )
        ).all()
    for request_id in ids:
        assert request_id is not None
        try:
            refresh(db, providers, actor, request_id)
        except DomainError as e:
            log.warning("reminder for order %s waits: %s", order_id, e)
            return False
    return True


def _message(
    s: Session, order: Order, customer: Customer, due: DueReminder, fee: int
) -> tuple[str, str]:
    """Subject and text from the reminder template, in the customer's language."""
    company = company_row(s)
    lang = customer.language
    t = translation_for(lang).gettext
    label, reference = payment_reference(company.country, due.invoice_number)
    account = t(N_("Account no.")) if company.country == "NO" else t(N_("Bankgiro"))

    def money(minor: int) -> str:
        return Money(minor, due.currency).format(lang)

    fee_text = ""
    if fee:
        fee_text = t(N_("A reminder fee of {fee} is added: please pay {total} in all.")).format(
            fee=money(fee), total=money(due.amount_minor + fee)
        )
    values = {
        "level": str(due.level),
        "invoice_number": str(due.invoice_number),
        "amount": money(due.amount_minor),
        "due_date": format_date(due.due, lang),
        "pay_to": t(N_("Pay to {account} {number} with {label} {reference}.")).format(
            account=account, number=company.bankgiro, label=label, reference=reference
        ),
        "fee": fee_text,
        "total": money(due.amount_minor + fee),
        "customer": customer.name,
        "company": company.name,
    }
    return render(s, REMINDER, lang, order_category(s, order.id), values)


def _queue(s: Session, order: Order, due: DueReminder, fee: int, pdf: bytes) -> str | None:
    """Queue the reminder by e-mail (the invoice attached), else by SMS; returns the channel."""
    customer = s.get(Customer, order.customer_id)
    assert customer is not None
    subject, body = _message(s, order, customer, due, fee)
    key = dedupe_key(due.invoice_number, due.level)
    if customer.email:
        name = translation_for(customer.language).gettext(N_("invoice-{n}.pdf"))
        invoice: Attachment = (name.format(n=due.invoice_number), "application/pdf", pdf)
        queue(
            s, "email", customer.email, body, key, subject, order_id=order.id, attachments=[invoice]
        )
        return "email"
    if customer.phone:
        queue(s, "sms", customer.phone, body, key, order_id=order.id)
        return "sms"
    return None


def send_due_reminders(
    db: Database, providers: Providers, schedule: RemindersSettings, actor: Actor = SYSTEM
) -> list[DueReminder]:
    """Send every reminder that is due (the scheduler's hourly job); returns those sent."""
    from verkstad.invoices.pdf import invoice_pdf

    sent = []
    for due in reminders_due(db, now(), schedule):
        with db.read() as s:
            order_id = s.exec(select(Order.id).where(Order.number == due.order_number)).one()
        assert order_id is not None
        if not _unpaid_at_providers(db, providers, actor, order_id):
            continue
        pdf = invoice_pdf(db, due.order_number)
        try:
            with db.session() as s:
                order = lock_order(s, due.order_number)  # paid a moment ago? we see it now
                if not _remindable(s, order) or level_due(s, order, now(), schedule) != due.level:
                    continue
                channel = _queue(s, order, due, schedule.fee_minor, pdf)
                if channel is None:
                    log.warning("order %s: the customer has no e-mail or phone", due.order_number)
                    continue
                s.add(
                    InvoiceReminder(
                        order_id=order_id,
                        invoice_number=due.invoice_number,
                        level=due.level,
                        dedupe_key=dedupe_key(due.invoice_number, due.level),
                        amount_minor=due.amount_minor,
                        fee_minor=schedule.fee_minor,
                        channel=channel,
                        sent_by=actor.name,
                    )
                )
                record(s, actor, "order", order.number, "reminder", None, {"level": due.level})
        except IntegrityError:
            continue  # another scheduler sent this level at the same moment
        sent.append(due)
    return sent
