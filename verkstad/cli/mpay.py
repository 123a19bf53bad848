"""Mobile payments from the command line: the seed-002 workflow, payments list, channels."""

from __future__ import annotations

from typing import Any

import typer

from verkstad.cli.common import FORMAT_HELP, OutputFormat, ctx_of, emit, emit_json, info
from verkstad.cli.context import Context
from verkstad.clock import format_datetime
from verkstad.i18n import _
from verkstad.money import Money
from verkstad.mpay.views import PaymentView


def providers_of(c: Context) -> Any:
    from verkstad.mpay.gateway import Providers

    providers = Providers(c.settings)
    c.cleanups.append(providers.close)
    return providers


def print_payment(view: PaymentView, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        emit_json(view.to_json())
        return
    amount = Money(view.amount_minor, view.currency).format()
    info(
        _("Payment {ref} ({provider}) for order {order}: {amount} — {state}").format(
            ref=view.reference,
            provider=view.provider,
            order=view.order_number or "—",
            amount=amount,
            state=view.state_label,
        )
    )
    if view.paid_at:
        info(_("Payment received: {time}").format(time=format_datetime(view.paid_at)))
    if view.capture_deadline:
        info(
            _("Reserved; captured automatically at {time}").format(
                time=format_datetime(view.capture_deadline)
            )
        )
    if view.failure_reason:
        info(_("Reason: {reason}").format(reason=view.failure_reason))
    if view.link:
        info(_("Link: {tail}").format(tail=view.link))


def payment_rows(views: list[PaymentView]) -> list[dict[str, Any]]:
    return [
        {
            "id": v.id,
            "reference": v.reference,
            "order": v.order_number,
            "customer": v.customer_name,
            "provider": v.provider,
            "state": v.state.value,
            "amount_minor": v.amount_minor,
            "currency": v.currency,
            "created_by": v.created_by,
            "created_at": v.created_at,
            "paid_at": v.paid_at,
            "read": v.read,
            "consolidated": v.consolidated_at is not None,
        }
        for v in views
    ]


def register(app: typer.Typer) -> None:
    mpay = typer.Typer(help=_("Mobile payment requests (M-Pay)."), no_args_is_help=True)
    payments = typer.Typer(help=_("The payments list."), no_args_is_help=True)
    channels = typer.Typer(help=_("Payment channels (ADMIN)."), no_args_is_help=True)
    app.add_typer(mpay, name="mpay")
    app.add_typer(payments, name="payments")
    app.add_typer(channels, name="channels")
    fmt_option = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP)

    @mpay.command("send", help=_("Send mobile payment (SMS) for a KLART order."))
    def send(
        ctx: typer.Context,
        order: int = typer.Argument(...),
        channel: str = typer.Option(None, "--channel"),
        sms: bool = typer.Option(None, "--sms/--no-sms"),
        email: bool = typer.Option(None, "--email/--no-email"),
        reference: str = typer.Option(None, "--reference"),
        explanation: str = typer.Option("", "--explanation"),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.mpay.service import SendForm
        from verkstad.mpay.service import send as do

        c = ctx_of(ctx)
        form = SendForm(
            channel=channel, sms=sms, email=email, reference=reference, explanation=explanation
        )
        print_payment(do(c.db, providers_of(c), c.actor, order, form), fmt)

    @mpay.command("check", help=_("Check mobile payment: ask the provider."))
    def check(
        ctx: typer.Context, order: int = typer.Argument(...), fmt: OutputFormat = fmt_option
    ) -> None:
        from verkstad.mpay.service import check as do

        c = ctx_of(ctx)
        print_payment(do(c.db, providers_of(c), c.actor, order), fmt)

    @mpay.command("cancel", help=_("Cancel payment SMS / Open order (refunds if already paid)."))
    def cancel(
        ctx: typer.Context, order: int = typer.Argument(...), fmt: OutputFormat = fmt_option
    ) -> None:
        from verkstad.mpay.service import cancel as do

        c = ctx_of(ctx)
        print_payment(do(c.db, providers_of(c), c.actor, order), fmt)

    @mpay.command("capture", help=_("Capture a reserved payment now."))
    def capture(
        ctx: typer.Context, order: int = typer.Argument(...), fmt: OutputFormat = fmt_option
    ) -> None:
        from verkstad.mpay.service import capture as do

        c = ctx_of(ctx)
        print_payment(do(c.db, providers_of(c), c.actor, order), fmt)

    @mpay.command("refund", help=_("Refund all or part of a paid payment."))
    def refund(
        ctx: typer.Context,
        order: int = typer.Argument(...),
        amount: str = typer.Option(
            None, "--amount", help=_("Default: everything not yet refunded")
        ),
        note: str = typer.Option("", "--note"),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.mpay.service import refund as do
        from verkstad.mpay.service import request_of_order

        c = ctx_of(ctx)
        print_payment(
            do(c.db, providers_of(c), c.actor, request_of_order(c.db, order), amount, note), fmt
        )

    @mpay.command(
        "manual", help=_("Register a manual mobile payment (Swish/Vipps to the company).")
    )
    def manual(
        ctx: typer.Context,
        order: int = typer.Argument(...),
        note: str = typer.Option(..., "--note"),
    ) -> None:
        from verkstad.mpay.service import record_manual

        c = ctx_of(ctx)
        record_manual(c.db, c.actor, order, note)
        info(_("Order {n}: manual mobile payment registered.").format(n=order))

    @mpay.command("request", help=_("A free payment request to a customer, not tied to an order."))
    def request(
        ctx: typer.Context,
        customer: int = typer.Option(..., "--customer"),
        amount: str = typer.Option(..., "--amount"),
        reference: str = typer.Option(None, "--reference"),
        explanation: str = typer.Option("", "--explanation"),
        channel: str = typer.Option(None, "--channel"),
        sms: bool = typer.Option(None, "--sms/--no-sms"),
        email: bool = typer.Option(None, "--email/--no-email"),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.mpay.service import SendForm, request_payment

        c = ctx_of(ctx)
        form = SendForm(
            channel=channel,
            sms=sms,
            email=email,
            reference=reference,
            explanation=explanation,
            amount=amount,
        )
        print_payment(request_payment(c.db, providers_of(c), c.actor, customer, form), fmt)

    @mpay.command(
        "reconcile",
        help=_("Finish what crashes or lost replies left open, by asking the providers."),
    )
    def reconcile(ctx: typer.Context) -> None:
        from verkstad.mpay.recovery import reconcile as do

        c = ctx_of(ctx)
        report = do(c.db, providers_of(c), c.actor)
        info(
            _(
                "Reconciled: {created} requests, {operations} operations, {refreshed} refreshed."
            ).format(
                created=report.created, operations=report.operations, refreshed=report.refreshed
            )
        )
        for error in report.errors:
            typer.echo(error, err=True)

    @payments.command("list", help=_("My payments (--mine) or all payments."))
    def list_(
        ctx: typer.Context,
        mine: bool = typer.Option(False, "--mine"),
        status: list[str] = typer.Option([], "--status"),
        provider: str = typer.Option(None, "--provider"),
        customer: int = typer.Option(None, "--customer"),
        limit: int = typer.Option(200, "--limit", min=1, max=100_000),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.errors import ValidationError
        from verkstad.mpay.payments import PaymentFilter, list_payments
        from verkstad.mpay.status import PaymentState

        try:
            states = tuple(PaymentState(s.strip().upper()) for s in status)
        except ValueError:
            raise ValidationError(
                _("Status"), _("must be one of: {choices}").format(choices=", ".join(PaymentState))
            ) from None
        c = ctx_of(ctx)
        flt = PaymentFilter(mine=mine, states=states, provider=provider, customer_number=customer)
        rows = payment_rows(list_payments(c.db, c.actor, flt, limit))
        columns = [
            ("id", "Id"),
            ("reference", _("Reference")),
            ("order", _("Order")),
            ("customer", _("Customer")),
            ("provider", _("Provider")),
            ("state", _("Status")),
            ("amount_minor", _("Amount")),
            ("created_by", _("Sent by")),
            ("paid_at", _("Paid")),
            ("read", _("Read")),
            ("consolidated", _("Consolidated")),
        ]

        def display(key: str, value: Any) -> str:
            if value is None:
                return ""
            if key == "amount_minor":
                return Money(value).format()
            if key in ("paid_at", "created_at"):
                return format_datetime(value)
            if isinstance(value, bool):
                return "✓" if value else ""
            return str(value)

        emit(fmt, columns, rows, display)

    @payments.command("show", help=_("One payment with its event history."))
    def show(
        ctx: typer.Context, payment: int = typer.Argument(...), fmt: OutputFormat = fmt_option
    ) -> None:
        from verkstad.mpay.payments import get_payment

        view = get_payment(ctx_of(ctx).db, payment)
        print_payment(view, fmt)
        if fmt is OutputFormat.table:
            for e in view.events:
                when = format_datetime(e.at)
                info(f"  {when}  {e.user:<10} {e.kind_label:<24} {e.state_label:<16} {e.detail}")

    @payments.command("mark-read", help=_("Mark as read (only your own payments)."))
    def mark_read(ctx: typer.Context, payment: int = typer.Argument(...)) -> None:
        from verkstad.mpay.payments import mark_read as do

        c = ctx_of(ctx)
        do(c.db, c.actor, payment)
        info(_("Payment {id} marked as read.").format(id=payment))

    @payments.command(
        "consolidate", help=_("Consolidate: booked by the bookkeeper (PAYMENT_MANAGER).")
    )
    def consolidate(ctx: typer.Context, payment: int = typer.Argument(...)) -> None:
        from verkstad.mpay.payments import consolidate as do

        c = ctx_of(ctx)
        do(c.db, c.actor, payment)
        info(_("Payment {id} consolidated.").format(id=payment))

    @channels.command("add", help=_("Add a payment channel (ADMIN)."))
    def channel_add(
        ctx: typer.Context,
        name: str = typer.Argument(...),
        provider: str = typer.Option(..., "--provider", help="resurs | vipps | swish | stripe"),
        types: str = typer.Option("receive,refund", "--types", help="receive,refund,payout"),
        sms: bool = typer.Option(True, "--sms/--no-sms"),
        email: bool = typer.Option(False, "--email/--no-email"),
        lifetime: int = typer.Option(24 * 60, "--lifetime-minutes"),
        users: str = typer.Option("", "--users", help=_("Comma-separated; empty = everyone")),
    ) -> None:
        from verkstad.mpay.channels import add_channel

        c = ctx_of(ctx)
        channel = add_channel(
            c.db,
            c.actor,
            name,
            provider.strip().lower(),
            tuple(t for t in types.split(",") if t.strip()),
            sms,
            email,
            lifetime,
            tuple(u for u in users.split(",") if u.strip()),
        )
        info(_("Channel {name} added.").format(name=channel.name))

    @channels.command("list", help=_("List payment channels."))
    def channel_list(ctx: typer.Context, fmt: OutputFormat = fmt_option) -> None:
        from verkstad.mpay.channels import list_channels

        rows = [
            {
                **v.__dict__,
                "transaction_types": ",".join(v.transaction_types),
                "users": ",".join(v.users),
            }
            for v in list_channels(ctx_of(ctx).db)
        ]
        columns = [
            ("name", _("Name")),
            ("provider", _("Provider")),
            ("transaction_types", _("Transaction types")),
            ("sms_enabled", "SMS"),
            ("email_enabled", _("E-mail")),
            ("link_lifetime_minutes", _("Link lifetime (min)")),
            ("users", _("Users")),
            ("active", _("Active")),
        ]
        emit(fmt, columns, rows)
