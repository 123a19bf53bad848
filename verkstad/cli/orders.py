"""Workshop orders from the command line: create, lines, complete/reopen, show, list."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import typer

from verkstad.cli.common import FORMAT_HELP, OutputFormat, ctx_of, emit, emit_json, info
from verkstad.clock import format_datetime, local_days, parse_date
from verkstad.formatting import format_percent_bp, format_quantity
from verkstad.i18n import _
from verkstad.money import Money
from verkstad.orders.views import OrderView


def print_order(order: OrderView, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        emit_json(order.to_json())
        return
    lines = [
        {
            "id": line.id,
            "kind": line.kind,
            "description": line.description,
            "quantity": line.quantity_milli,
            "unit": line.unit,
            "unit_price": line.unit_price_minor,
            "discount": line.discount_bp,
            "vat": line.vat_rate,
            "net": line.net_minor,
        }
        for line in order.lines
    ]
    columns = [
        ("id", _("Line")),
        ("kind", _("Kind")),
        ("description", _("Description")),
        ("quantity", _("Quantity")),
        ("unit", _("Unit")),
        ("unit_price", _("Unit price")),
        ("discount", _("Discount %")),
        ("vat", _("VAT %")),
        ("net", _("Amount excl. VAT")),
    ]
    if fmt is OutputFormat.csv:
        emit(fmt, columns, lines)
        return

    def money(minor: int) -> str:
        return Money(minor, order.currency).format()

    def display(key: str, value: Any) -> str:
        if key in ("unit_price", "net"):
            return money(value)
        if key == "quantity":
            return format_quantity(value) if value else ""
        if key == "discount":
            return format_percent_bp(value)
        return str(value)

    vehicle = order.vehicle.reg_number if order.vehicle else "—"
    info(
        _("Order {n}  [{status}]  customer {c} {name}  vehicle {reg}").format(
            n=order.number,
            status=order.status.value,
            c=order.customer.number,
            name=order.customer.name,
            reg=vehicle,
        )
    )
    emit(fmt, columns, lines, display)
    for rate in order.totals.rates:
        info(
            _("VAT {rate} %: {vat} on {net}").format(
                rate=rate.rate, vat=money(rate.vat), net=money(rate.net)
            )
        )
    info(_("Rounding: {amount}").format(amount=money(order.totals.rounding)))
    info(_("To pay: {amount}").format(amount=money(order.totals.payable)))
    received = format_datetime(order.payment_received_at) if order.payment_received else _("no")
    info(
        _("Payment method: {method}   Payment received: {received}").format(
            method=order.payment_method or "—", received=received
        )
    )


def register(app: typer.Typer) -> None:
    orders = typer.Typer(help=_("Workshop orders."), no_args_is_help=True)
    app.add_typer(orders, name="orders")
    fmt_option = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP)

    @orders.command("create", help=_("Create an order for a customer."))
    def create(
        ctx: typer.Context,
        customer: int = typer.Option(..., "--customer", help=_("Customer number")),
        vehicle: str = typer.Option("", "--vehicle", help=_("Registration number")),
        notes: str = typer.Option("", "--notes"),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.orders.service import create_order

        c = ctx_of(ctx)
        order = create_order(c.db, c.actor, customer, vehicle or None, notes)
        if fmt is OutputFormat.json:
            emit_json(order.to_json())
        else:
            info(_("Order {n} created.").format(n=order.number))

    @orders.command("add-line", help=_("Add a line: part, labour, fee or text."))
    def add_line(
        ctx: typer.Context,
        order: int = typer.Argument(..., help=_("Order number")),
        kind: str = typer.Option("part", "--kind", help="part | labour | fee | text"),
        desc: str = typer.Option(..., "--desc", help=_("Description")),
        qty: str = typer.Option("1", "--qty", help=_("Quantity, e.g. 1,5")),
        price: str = typer.Option("0", "--price", help=_("Unit price excl. VAT, e.g. 1 199,20")),
        vat: str = typer.Option("25", "--vat", help=_("VAT rate in percent")),
        discount: str = typer.Option("", "--discount", help=_("Discount in percent")),
        unit: str = typer.Option("", "--unit"),
        article: str = typer.Option("", "--article", help=_("Article number")),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.orders.service import LineInput
        from verkstad.orders.service import add_line as add

        c = ctx_of(ctx)
        data = LineInput(desc, qty, price, vat, kind, discount, unit, article)
        print_order(add(c.db, c.actor, order, data), fmt)

    @orders.command("edit-line", help=_("Replace a line (every field is replaced)."))
    def edit_line(
        ctx: typer.Context,
        order: int = typer.Argument(...),
        line: int = typer.Argument(..., help=_("Line id as shown by orders show")),
        kind: str = typer.Option("part", "--kind"),
        desc: str = typer.Option(..., "--desc"),
        qty: str = typer.Option("1", "--qty"),
        price: str = typer.Option("0", "--price"),
        vat: str = typer.Option("25", "--vat"),
        discount: str = typer.Option("", "--discount"),
        unit: str = typer.Option("", "--unit"),
        article: str = typer.Option("", "--article"),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.orders.service import LineInput, update_line

        c = ctx_of(ctx)
        data = LineInput(desc, qty, price, vat, kind, discount, unit, article)
        print_order(update_line(c.db, c.actor, order, line, data), fmt)

    @orders.command("delete-line", help=_("Delete a line."))
    def delete_line(
        ctx: typer.Context,
        order: int = typer.Argument(...),
        line: int = typer.Argument(...),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.orders.service import delete_line as delete

        c = ctx_of(ctx)
        print_order(delete(c.db, c.actor, order, line), fmt)

    @orders.command("set", help=_("Change notes, payment method or vehicle of an open order."))
    def set_(
        ctx: typer.Context,
        order: int = typer.Argument(...),
        notes: str = typer.Option(None, "--notes"),
        payment_method: str = typer.Option(
            None, "--payment-method", help="KONTANT | KORT | FAKTURA"
        ),
        vehicle: str = typer.Option(None, "--vehicle"),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.orders.service import update_order

        c = ctx_of(ctx)
        view = update_order(
            c.db, c.actor, order, notes=notes, payment_method=payment_method, vehicle_reg=vehicle
        )
        print_order(view, fmt)

    @orders.command("complete", help=_("Mark the order complete (KLART)."))
    def complete(ctx: typer.Context, order: int = typer.Argument(...)) -> None:
        from verkstad.orders.service import complete as do

        c = ctx_of(ctx)
        view = do(c.db, c.actor, order)
        info(_("Order {n} is now {status}.").format(n=view.number, status=view.status.value))

    @orders.command("reopen", help=_("Open a completed order again (ÖPPEN)."))
    def reopen(ctx: typer.Context, order: int = typer.Argument(...)) -> None:
        from verkstad.orders.service import reopen as do

        c = ctx_of(ctx)
        view = do(c.db, c.actor, order)
        info(_("Order {n} is now {status}.").format(n=view.number, status=view.status.value))

    @orders.command("show", help=_("Show an order with lines and totals."))
    def show(
        ctx: typer.Context, order: int = typer.Argument(...), fmt: OutputFormat = fmt_option
    ) -> None:
        from verkstad.orders.service import get_order

        print_order(get_order(ctx_of(ctx).db, order), fmt)

    @orders.command("history", help=_("The order's audit log."))
    def history(
        ctx: typer.Context, order: int = typer.Argument(...), fmt: OutputFormat = fmt_option
    ) -> None:
        from verkstad.orders.log_text import log_change
        from verkstad.orders.service import get_order, order_history
        from verkstad.orders.status import log_label

        c = ctx_of(ctx)
        get_order(c.db, order)  # a clear error for an unknown order
        columns = [
            ("at", _("When")),
            ("user", _("User")),
            ("action", _("Action")),
            ("before", _("Before")),
            ("after", _("After")),
            ("reason", _("Why")),
        ]

        def display(key: str, value: Any) -> str:
            if key == "at":
                return format_datetime(value)
            if key == "action":
                return log_label(value)
            return "" if value is None else str(value)

        entries = order_history(c.db, order)
        if fmt is OutputFormat.table:  # (CSV and JSON keep the recorded values)
            for entry in entries:
                entry["before"], entry["after"] = log_change(entry["before"], entry["after"])
        emit(fmt, columns, entries, display)

    @orders.command("list", help=_("List orders with filters (the F5 list)."))
    def list_(
        ctx: typer.Context,
        status: list[str] = typer.Option([], "--status", help=_("Status code; repeat for several")),
        customer: int = typer.Option(None, "--customer"),
        paid: bool = typer.Option(None, "--paid/--unpaid", help=_("Payment received or not")),
        received_from: str = typer.Option(None, "--received-from", help="YYYY-MM-DD"),
        received_to: str = typer.Option(None, "--received-to", help=_("YYYY-MM-DD, inclusive")),
        created_from: str = typer.Option(None, "--created-from", help="YYYY-MM-DD"),
        created_to: str = typer.Option(None, "--created-to", help=_("YYYY-MM-DD, inclusive")),
        method: str = typer.Option(None, "--payment-method"),
        search: str = typer.Option("", "--search", help=_("Order no., customer name or reg. no.")),
        sort: str = typer.Option("number", "--sort", help=_("Column to sort by")),
        desc: bool = typer.Option(False, "--desc", help=_("Sort descending")),
        limit: int = typer.Option(50, "--limit", min=1, max=10_000_000),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.orders.queries import iter_orders, sort_key

        flt = build_filter(
            status,
            customer,
            paid,
            received_from,
            received_to,
            created_from,
            created_to,
            method,
            search,
        )
        rows = iter_orders(ctx_of(ctx).db, flt, sort_key(sort), desc, batch=min(limit, 2000))
        emit_orders(rows, limit, fmt)


def build_filter(
    statuses: list[str],
    customer: int | None,
    paid: bool | None,
    received_from: str | None,
    received_to: str | None,
    created_from: str | None,
    created_to: str | None,
    method: str | None,
    search: str,
) -> Any:
    """The list filter from CLI text; dates are whole days in the workshop's time zone."""
    from verkstad.orders.queries import OrderFilter
    from verkstad.orders.service import parse_payment_method
    from verkstad.orders.status import parse_status

    def days(
        start: str | None, end: str | None, option: str
    ) -> tuple[datetime | None, datetime | None]:
        first, last = f"--{option}-from", f"--{option}-to"
        return local_days(parse_date(start, first), parse_date(end, last), first, last)

    received = days(received_from, received_to, "received")
    created = days(created_from, created_to, "created")
    return OrderFilter(
        statuses=tuple(parse_status(s) for s in statuses),
        customer_number=customer,
        text=search,
        received=paid,
        received_from=received[0],
        received_to=received[1],
        created_from=created[0],
        created_to=created[1],
        payment_method=parse_payment_method(method) if method else None,
    )


def order_columns() -> list[tuple[str, str]]:
    from verkstad.orders.queries import COLUMNS

    return [(key, _(label)) for key, (_col, label, _n) in COLUMNS.items()]


def emit_orders(rows: Any, limit: int, fmt: OutputFormat) -> None:
    from itertools import islice

    def display(key: str, value: Any) -> str:
        if value is None:
            return ""
        if key == "total":
            return Money(value).format()
        if key in ("received_at", "created_at"):
            return format_datetime(value)
        if key == "payment_received":
            return "✓" if value else ""
        return str(value)

    if fmt is OutputFormat.json:
        emit_json([r.to_json() for r in islice(rows, limit)])
        return
    data = ({**r.as_dict(), "total": r.total_minor} for r in islice(rows, limit))
    emit(fmt, order_columns(), data, display)
    sys.stdout.flush()
