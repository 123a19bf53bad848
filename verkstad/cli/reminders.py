"""Invoices paid later from the command line: register a payment, reminders, payment reports.

``register(app)`` adds ``paid`` to the existing ``invoice`` group (call it after
``books.register``) and the groups ``reminders`` and ``report``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from verkstad.cli.common import OutputFormat, ctx_of, emit, info
from verkstad.clock import format_date, local_day_start, now, parse_date, today, workshop_zone
from verkstad.errors import DomainError, ValidationError
from verkstad.i18n import _
from verkstad.money import Money, format_amount


def _group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    for group in app.registered_groups:
        if group.name == name and group.typer_instance is not None:
            return group.typer_instance
    created = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(created, name=name)
    return created


def parse_received(text: str | None) -> datetime | None:
    """YYYY-MM-DD (the start of that day) or YYYY-MM-DDTHH:MM, in the workshop's time zone."""
    if not text:
        return None
    field = _("Time payment was received")
    if len(text.strip()) == 10:
        day = parse_date(text, field)
        assert day is not None
        return local_day_start(day)
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(field, _("must be a date written YYYY-MM-DD")) from None
    return at.replace(tzinfo=workshop_zone()) if at.tzinfo is None else at


def register(app: typer.Typer) -> None:
    invoice = _group(app, "invoice", _("Invoices and credit notes as PDF."))
    reminders = _group(app, "reminders", _("Payment reminders for unpaid invoices."))
    report = _group(app, "report", _("Payment reports for the bookkeeper."))

    @invoice.command("paid", help=_("The customer paid the invoice: Betalning mottagen, booked."))
    def paid(
        ctx: typer.Context,
        order: int = typer.Argument(..., help=_("Order number")),
        at: str = typer.Option(None, "--at", help=_("When it was paid (default: now)")),
    ) -> None:
        from verkstad.ledger.receipts import register_invoice_paid

        c = ctx_of(ctx)
        view = register_invoice_paid(c.db, c.actor, order, parse_received(at))
        info(
            _("Invoice {invoice} is paid ({amount}): verification {ver}.").format(
                invoice=view.invoice_number,
                amount=Money(view.amount_minor, view.currency).format(),
                ver=view.verification_number,
            )
        )

    @reminders.command("due", help=_("The reminders that are due now."))
    def due(
        ctx: typer.Context,
        fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table | csv | json"),
    ) -> None:
        from verkstad.invoices.reminders import reminders_due

        c = ctx_of(ctx)
        rows = [r.__dict__ for r in reminders_due(c.db, now(), c.settings.reminders)]
        columns = [
            ("order_number", _("Order")),
            ("invoice_number", _("Invoice no.")),
            ("level", _("Reminder")),
            ("due", _("Due date")),
            ("amount_minor", _("Amount")),
        ]

        def display(key: str, value: Any) -> str:
            if key == "amount_minor":
                return format_amount(value)
            return format_date(value) if key == "due" else str(value)

        emit(fmt, columns, rows, display)

    @reminders.command(
        "send", help=_("Send the reminders that are due now (the scheduler does it hourly).")
    )
    def send(ctx: typer.Context) -> None:
        from verkstad.invoices.reminders import send_due_reminders
        from verkstad.mpay.gateway import Providers

        c = ctx_of(ctx)
        providers = Providers(c.settings)
        c.cleanups.append(providers.close)
        sent = send_due_reminders(c.db, providers, c.settings.reminders, c.actor)
        info(_("{n} reminders queued.").format(n=len(sent)))

    @report.command("payments", help=_("Payments per provider for a day, week or month (CSV)."))
    def payments(
        ctx: typer.Context,
        period: str = typer.Option("day", "--period", help="day | week | month"),
        day: str = typer.Option(None, "--date", help=_("A day in the period (default: today)")),
        output: str = typer.Option(None, "-o", "--output", help=_("File (default: stdout)")),
    ) -> None:
        from verkstad.ledger.reports import period_of, report_csv

        c = ctx_of(ctx)
        chosen = period_of(period, parse_date(day, _("Date")) or today())
        data = report_csv(c.db, chosen)
        if not output:
            sys.stdout.write(data.decode("utf-8"))
            return
        try:
            Path(output).write_bytes(data)
        except OSError as e:
            raise DomainError(
                _("Cannot write {path}: {error}").format(path=output, error=e)
            ) from None
