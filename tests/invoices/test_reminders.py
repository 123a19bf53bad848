"""Payment reminders: levels on the clock, catch-up after downtime, paid or credited invoices
never reminded (also when paid a second before), and one reminder from two senders."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlmodel import col, select

from tests.ledger.builders import klart
from tests.ledger.fakes import FakeProvider
from verkstad.clock import now
from verkstad.config import RemindersSettings
from verkstad.errors import DomainError
from verkstad.i18n import translation_for
from verkstad.invoices.models import InvoiceReminder
from verkstad.invoices.reminders import reminders_due, send_due_reminders
from verkstad.ledger.credit import credit_order
from verkstad.ledger.journal import balance, iter_verifications
from verkstad.ledger.posting import post_order
from verkstad.ledger.receipts import register_invoice_paid
from verkstad.mpay import service as mpay
from verkstad.mpay.notify import OutboxMessage
from verkstad.mpay.providers.base import ProviderStatus, ProviderUnavailable
from verkstad.mpay.templates import REMINDER, set_template
from verkstad.orders import service
from verkstad.users import Actor, Role

SCHEDULE = RemindersSettings(days_after_due=[7, 14], hour=8)
POSTED = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # invoice 2025-03-03, due 2025-04-02 (30 days)


def local(text: str) -> datetime:
    """A Stockholm wall-clock time ("2025-04-09 08:00") as UTC (CEST is UTC+2 in April)."""
    return datetime.fromisoformat(text + "+02:00").astimezone(UTC)


def posted_invoice(db, admin) -> int:
    with freeze_time(POSTED):
        number = klart(db, admin)
        post_order(db, admin, number)
    return number


def send(db, at: datetime, provider: FakeProvider | None = None, schedule=SCHEDULE) -> list[int]:
    with freeze_time(at):
        return [r.level for r in send_due_reminders(db, provider or FakeProvider(), schedule)]


def messages(db) -> list[OutboxMessage]:
    with db.read() as s:
        return list(s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def test_levels_come_on_their_days_from_the_hour_and_each_once(db, admin):
    posted_invoice(db, admin)
    assert send(db, local("2025-04-09 07:59")) == []
    assert send(db, local("2025-04-09 08:00")) == [1]
    assert send(db, local("2025-04-09 09:00")) == []
    assert send(db, local("2025-04-16 07:00")) == []
    assert send(db, local("2025-04-16 08:00")) == [2]
    assert send(db, local("2025-06-01 08:00")) == []  # no third level
    assert [m.dedupe_key for m in messages(db)] == ["reminder:1:1", "reminder:1:2"]


def test_the_email_says_what_to_pay_with_the_fee_and_carries_the_invoice(db, admin):
    service.update_company(db, admin, bankgiro="123-4567")
    posted_invoice(db, admin)
    with_fee = RemindersSettings(days_after_due=[7], fee_minor=6000)
    assert send(db, local("2025-04-09 08:00"), schedule=with_fee) == [1]
    [mail] = messages(db)
    assert (mail.channel, mail.recipient) == ("email", "anna@example.se")
    swedish = translation_for("sv").gettext  # the customer's language
    subject = swedish("Payment reminder: invoice {invoice_number}")
    assert mail.subject == subject.format(invoice_number=1)
    assert mail.subject != "Payment reminder: invoice 1"  # really translated
    amounts = ("3\xa0812,00\xa0kr", "60,00\xa0kr", "3\xa0872,00\xa0kr")  # the customer's sv locale
    for text in ("2025-04-02", "123-4567", "133", *amounts):
        assert text in mail.body
    [pdf] = mail.attachments
    assert (pdf.filename, pdf.mime_type) == ("faktura-1.pdf", "application/pdf")  # Swedish customer
    assert pdf.content.startswith(b"%PDF")
    with db.read() as s:
        [sent] = s.exec(select(InvoiceReminder)).all()
    assert (sent.fee_minor, sent.amount_minor) == (6000, 381200)
    assert balance(db, "1510") == 381200  # the fee is text on the reminder, never booked


def test_an_admins_reminder_text_for_the_language_and_category_is_used(db, admin):
    body = "Hej {customer}! Påminnelse {level}: {amount} senast {due_date}. {pay_to} {fee}"
    set_template(db, admin, REMINDER, "sv", "service", "Påminnelse {invoice_number}", body)
    service.update_company(db, admin, bankgiro="123-4567")
    posted_invoice(db, admin)  # labour on it: "service"
    assert send(db, local("2025-04-09 08:00")) == [1]
    [mail] = messages(db)
    assert mail.subject == "Påminnelse 1"
    assert mail.body.startswith("Hej Anna Andersson! Påminnelse 1: 3\xa0812,00\xa0kr senast")
    assert "123-4567" in mail.body and mail.body.endswith(".")  # no fee: nothing after it


def test_a_reminder_template_with_an_unknown_field_is_refused(db, admin):
    with pytest.raises(DomainError, match="invoice"):
        set_template(db, admin, REMINDER, "sv", "default", "Påminnelse", "Betala {invoice} nu")


def test_after_downtime_only_the_highest_due_level_is_sent_once(db, admin):
    posted_invoice(db, admin)
    with freeze_time(local("2025-05-01 12:00")):
        assert [r.level for r in reminders_due(db, now(), SCHEDULE)] == [2]
    assert send(db, local("2025-05-01 12:00")) == [2]
    assert send(db, local("2025-05-01 13:00")) == []
    assert send(db, local("2025-07-01 13:00")) == []
    assert len(messages(db)) == 1


def test_a_late_first_reminder_keeps_the_spacing_before_the_second(db, admin):
    posted_invoice(db, admin)
    assert send(db, local("2025-04-15 20:00")) == [1]  # caught up the evening before level 2
    assert send(db, local("2025-04-16 08:00")) == []
    assert send(db, local("2025-04-22 08:00")) == [2]  # seven days after the first


def test_paid_a_second_before_is_not_reminded_and_the_payment_is_booked(db, admin):
    number = posted_invoice(db, admin)
    at = local("2025-04-09 08:00")
    with freeze_time(at):
        paid = register_invoice_paid(db, admin, number, at - timedelta(seconds=1))
    assert paid.amount_minor == 381200
    assert send(db, at) == [] and messages(db) == []
    order = service.get_order(db, number)
    assert order.payment_received and order.payment_received_at == at - timedelta(seconds=1)
    [payment] = [v for v in iter_verifications(db) if v.kind == "payment"]
    assert [(r.account, r.amount_minor) for r in payment.rows] == [
        ("1930", 381200),
        ("1510", -381200),
    ]
    assert balance(db, "1510") == 0


def test_registering_a_payment_is_for_unpaid_posted_invoices_by_a_payment_manager(db, admin):
    number = posted_invoice(db, admin)
    with pytest.raises(DomainError):
        register_invoice_paid(db, Actor("staff", Role.STAFF), number)
    with pytest.raises(DomainError):
        register_invoice_paid(db, admin, number, now() + timedelta(hours=1))
    register_invoice_paid(db, admin, number)
    with pytest.raises(DomainError, match="already paid"):
        register_invoice_paid(db, admin, number)


def test_a_paid_then_credited_invoice_credits_the_whole_amount(db, admin):
    number = posted_invoice(db, admin)
    register_invoice_paid(db, admin, number)
    credit = credit_order(db, FakeProvider(), admin, number)
    assert credit.total_minor == 381200
    assert balance(db, "1510") == 0 and balance(db, "1930") == 0


def test_credited_invoice_is_never_reminded(db, admin):
    number = posted_invoice(db, admin)
    credit_order(db, FakeProvider(), admin, number)
    assert send(db, local("2025-05-01 12:00")) == []


def test_payment_found_at_the_provider_just_before_stops_the_reminder(db, admin):
    provider = FakeProvider()
    with freeze_time(POSTED):
        number = klart(db, admin, method="KONTANT")
        service.update_order(db, admin, number, payment_method=None)
        mpay.send(db, provider, admin, number)
        mpay.cancel(db, provider, admin, number)
        service.update_order(db, admin, number, payment_method="FAKTURA")
        post_order(db, admin, number)
    [ref] = provider.payments
    provider.pay(ref)  # the customer paid through the old link anyway
    assert send(db, local("2025-04-09 08:00"), provider) == []
    assert service.get_order(db, number).payment_received


class AwayProvider(FakeProvider):
    away: bool = False

    def status(self, provider_ref: str) -> ProviderStatus:
        if self.away:
            raise ProviderUnavailable("timeout")
        return super().status(provider_ref)


def test_an_unreachable_provider_postpones_the_reminder(db, admin):
    provider = AwayProvider()
    with freeze_time(POSTED):
        number = klart(db, admin, method="KONTANT")
        service.update_order(db, admin, number, payment_method=None)
        mpay.send(db, provider, admin, number)
        mpay.cancel(db, provider, admin, number)
        service.update_order(db, admin, number, payment_method="FAKTURA")
        post_order(db, admin, number)
    provider.away = True
    assert send(db, local("2025-04-09 08:00"), provider) == []
    provider.away = False
    assert send(db, local("2025-04-09 09:00"), provider) == [1]


@pytest.mark.postgres
def test_two_senders_at_once_send_one_reminder(pg_db, admin):
    posted_invoice(pg_db, admin)
    start = threading.Barrier(2)
    results: list[list[int]] = []

    def sender() -> None:
        start.wait()
        results.append([r.level for r in send_due_reminders(pg_db, FakeProvider(), SCHEDULE)])

    with freeze_time(local("2025-04-09 08:00")):
        threads = [threading.Thread(target=sender) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == [[], [1]]
    assert len(messages(pg_db)) == 1
