"""The books from the command line: post, credit, invoices and receipts, ledger, exports.

``register(app)`` adds ``post`` and ``credit`` to the existing ``orders``
group (call it after ``orders.register``) and the groups ``invoice``,
``receipt``, ``ledger``, ``settlement`` and ``export``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import typer

from verkstad.cli.common import (
    FORMAT_HELP,
    Context,
    OutputFormat,
    ctx_of,
    emit,
    emit_json,
    info,
)
from verkstad.clock import local_days, parse_date
from verkstad.errors import DomainError, ValidationError
from verkstad.i18n import _
from verkstad.money import Money


def _orders_group(app: typer.Typer) -> typer.Typer:
    for group in app.registered_groups:
        if group.name == "orders" and group.typer_instance is not None:
            return group.typer_instance
    orders = typer.Typer(help=_("Workshop orders."), no_args_is_help=True)
    app.add_typer(orders, name="orders")
    return orders


def _print_settings(c: Context, folder: str | None, command: str | None) -> tuple[Path, str]:
    """--folder/--command, else the ``[printing]`` settings."""
    chosen_folder = Path(folder).expanduser() if folder else c.settings.print_folder()
    return chosen_folder, c.settings.printing.command if command is None else command


def _write_file(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        raise DomainError(_("Cannot write {path}: {error}").format(path=path, error=e)) from None


@contextmanager
def _output(path: str | None, binary: bool = False) -> Iterator[Any]:
    """The file named by -o (written whole or not at all), or stdout."""
    if not path:
        yield sys.stdout.buffer if binary else sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    temp = target.with_name(f".{target.name}.part")
    try:
        with temp.open("wb") if binary else temp.open("w", encoding="utf-8", newline="") as f:
            yield f
        temp.replace(target)
    except OSError as e:
        raise DomainError(_("Cannot write {path}: {error}").format(path=path, error=e)) from None
    finally:
        temp.unlink(missing_ok=True)


@contextmanager
def _progress(count_all: Callable[[], int], to_file: bool) -> Iterator[Callable[[], None] | None]:
    """A rich progress bar on the terminal (stderr) while a file is written (``count_all``
    gives its total: only then is it counted)."""
    if not to_file or not sys.stderr.isatty():
        yield None
        return
    total = count_all()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(_("Exporting"), total=total)
        step = max(1, total // 200)
        count = 0

        def tick() -> None:
            nonlocal count
            count += 1
            if count % step == 0 or count == total:
                progress.update(task, completed=count)

        yield tick


def register(app: typer.Typer) -> None:
    fmt_option = typer.Option(OutputFormat.table, "--format", help=FORMAT_HELP)
    _register_orders(_orders_group(app), fmt_option)
    _register_documents(app)
    _register_ledger(app, fmt_option)
    _register_exports(app)


# ---------------------------------------------------------------- orders post / credit


def _register_orders(orders: typer.Typer, fmt_option: Any) -> None:
    @orders.command("post", help=_("Post the order (Bokför): invoice number and verification."))
    def post(
        ctx: typer.Context,
        order: int = typer.Argument(..., help=_("Order number")),
        version: int = typer.Option(None, "--version", help=_("Refuse if the order changed")),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.ledger.posting import post_order

        c = ctx_of(ctx)
        posted = post_order(c.db, c.actor, order, version)
        if fmt is OutputFormat.json:
            emit_json(posted.to_json())
            return
        info(
            _("Order {n} is posted: invoice {invoice}, verification {ver}.").format(
                n=order, invoice=posted.invoice_number, ver=posted.verification_number
            )
        )
        _emit_rows(fmt, [(r.account, r.name, r.amount_minor) for r in posted.rows], posted.currency)

    @orders.command("credit", help=_("Credit the invoice (Kreditera); a copy opens for changes."))
    def credit(
        ctx: typer.Context,
        order: int = typer.Argument(..., help=_("Order number")),
        line: list[int] = typer.Option([], "--line", help=_("Credit only this line; repeat")),
        reason: str = typer.Option("", "--reason"),
        refund: bool = typer.Option(
            True, "--refund/--no-refund", help=_("Refund an M-Pay payment through the provider")
        ),
        reopen: bool = typer.Option(
            True, "--reopen/--no-reopen", help=_("Open a copy of the order for changes")
        ),
        version: int = typer.Option(None, "--version"),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.cli.mpay import providers_of
        from verkstad.ledger.credit import credit_order

        c = ctx_of(ctx)
        view = credit_order(
            c.db,
            providers_of(c),
            c.actor,
            order,
            line or None,
            version,
            reason,
            refund,
            reopen,
        )
        if fmt is OutputFormat.json:
            emit_json(view.to_json())
            return
        info(
            _("Credit note {n} for invoice {invoice} is booked ({amount}).").format(
                n=view.number,
                invoice=view.original_invoice_number,
                amount=Money(view.total_minor, view.currency).format(),
            )
        )
        if view.refund_minor:
            refunded = Money(view.refund_minor, view.currency).format()
            info(_("Refunded through the mobile payment: {amount}").format(amount=refunded))
        if view.copy_order_number:
            info(_("Order {n} is open for changes.").format(n=view.copy_order_number))


def _emit_rows(fmt: OutputFormat, rows: list[tuple[str, str, int]], currency: str) -> None:
    def display(key: str, value: Any) -> str:
        if key in ("debit", "credit"):
            return Money(value, currency).format() if value else ""
        return str(value)

    emit(
        fmt,
        [
            ("account", _("Account")),
            ("name", _("Name")),
            ("debit", _("Debit amount")),
            ("credit", _("Credit amount")),
        ],
        [
            {"account": a, "name": n, "debit": max(amount, 0), "credit": max(-amount, 0)}
            for a, n, amount in rows
        ],
        display,
    )


# ---------------------------------------------------------------- invoice / receipt PDFs


def _register_documents(app: typer.Typer) -> None:
    invoice = typer.Typer(help=_("Invoices and credit notes as PDF."), no_args_is_help=True)
    receipt = typer.Typer(help=_("Receipts for mobile payments."), no_args_is_help=True)
    app.add_typer(invoice, name="invoice")
    app.add_typer(receipt, name="receipt")

    def invoice_document(c: Context, order: int, credit: bool, credit_note: int | None) -> Any:
        from verkstad.invoices.documents import (
            credit_note_document,
            credit_numbers,
            invoice_document,
        )

        if credit_note is not None:
            doc = credit_note_document(c.db, credit_note)
            if doc.order_number != order:
                raise ValidationError(
                    "--credit-note",
                    _("credit note {n} belongs to order {order}").format(
                        n=credit_note, order=doc.order_number
                    ),
                )
            return doc
        if credit:
            numbers = credit_numbers(c.db, order)
            if not numbers:
                raise DomainError(_("Order {n} has no credit note.").format(n=order))
            return credit_note_document(c.db, numbers[-1])
        return invoice_document(c.db, order)

    def file_name(doc: Any) -> str:
        if doc.kind == "credit":
            return _("credit-note-{n}.pdf").format(n=doc.number)
        return _("invoice-{n}.pdf").format(n=doc.number)

    credit_opt = typer.Option(False, "--credit", help=_("The order's latest credit note"))
    credit_note_opt = typer.Option(None, "--credit-note", help=_("This credit note's number"))
    folder_opt = typer.Option(None, "--folder", help=_("Where printed PDFs are kept"))
    command_opt = typer.Option(None, "--command", help=_("Print command, e.g. 'lp -d kassa'"))

    @invoice.command("pdf", help=_("The order's invoice (or credit note) as a PDF."))
    def invoice_pdf(
        ctx: typer.Context,
        order: int = typer.Argument(..., help=_("Order number")),
        output: str = typer.Option(None, "-o", "--output", help=_("File (default: invoice-N.pdf)")),
        credit: bool = credit_opt,
        credit_note: int = credit_note_opt,
    ) -> None:
        from verkstad.invoices.pdf import render_invoice

        doc = invoice_document(ctx_of(ctx), order, credit, credit_note)
        path = output or file_name(doc)
        _write_file(path, render_invoice(doc))
        info(_("Wrote {path}.").format(path=path))

    @invoice.command("print", help=_("Skriv ut: the PDF to the print folder and printer."))
    def invoice_print(
        ctx: typer.Context,
        order: int = typer.Argument(..., help=_("Order number")),
        credit: bool = credit_opt,
        credit_note: int = credit_note_opt,
        folder: str = folder_opt,
        command: str = command_opt,
    ) -> None:
        from verkstad.invoices.pdf import render_invoice
        from verkstad.invoices.print import print_pdf

        c = ctx_of(ctx)
        doc = invoice_document(c, order, credit, credit_note)
        where, how = _print_settings(c, folder, command)
        path = print_pdf(render_invoice(doc), where, file_name(doc), how)
        info(_("Printed {path}.").format(path=path))

    @receipt.command("pdf", help=_("Receipt for a completed mobile payment (or its refunds)."))
    def receipt_pdf(
        ctx: typer.Context,
        payment: int = typer.Argument(..., help=_("Payment id (payments list)")),
        output: str = typer.Option(None, "-o", "--output", help=_("File (default: receipt-N.pdf)")),
        refund: bool = typer.Option(False, "--refund", help=_("A receipt for the refunds")),
    ) -> None:
        from verkstad.invoices.pdf import receipt_pdf as render

        path = output or _("receipt-{n}.pdf").format(n=payment)
        _write_file(path, render(ctx_of(ctx).db, payment, refund))
        info(_("Wrote {path}.").format(path=path))

    @receipt.command("print", help=_("Skriv ut: the receipt to the print folder and printer."))
    def receipt_print(
        ctx: typer.Context,
        payment: int = typer.Argument(..., help=_("Payment id (payments list)")),
        refund: bool = typer.Option(False, "--refund"),
        folder: str = folder_opt,
        command: str = command_opt,
    ) -> None:
        from verkstad.invoices.pdf import receipt_pdf as render
        from verkstad.invoices.print import print_pdf

        c = ctx_of(ctx)
        where, how = _print_settings(c, folder, command)
        name = _("receipt-{n}.pdf").format(n=payment)
        path = print_pdf(render(c.db, payment, refund), where, name, how)
        info(_("Printed {path}.").format(path=path))


# ---------------------------------------------------------------- ledger and settlement


def _register_ledger(app: typer.Typer, fmt_option: Any) -> None:
    ledger = typer.Typer(
        help=_("The books: verifications, balances, accounts."), no_args_is_help=True
    )
    settlement = typer.Typer(help=_("Provider settlement reports."), no_args_is_help=True)
    app.add_typer(ledger, name="ledger")
    app.add_typer(settlement, name="settlement")

    @ledger.command("list", help=_("Verifications with their rows."))
    def list_(
        ctx: typer.Context,
        date_from: str = typer.Option(None, "--from", help="YYYY-MM-DD"),
        date_to: str = typer.Option(None, "--to", help=_("YYYY-MM-DD, inclusive")),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.ledger.journal import iter_verifications
        from verkstad.orders.service import get_company

        c = ctx_of(ctx)
        found = iter_verifications(
            c.db, parse_date(date_from, "--from"), parse_date(date_to, "--to")
        )
        if fmt is OutputFormat.json:
            emit_json([v.to_json() for v in found])
            return
        if fmt is OutputFormat.csv:
            flat = (
                {
                    "number": v.number,
                    "booked_on": v.booked_on,
                    "kind": v.kind,
                    "text": v.text,
                    "account": r.account,
                    "amount_minor": r.amount_minor,
                }
                for v in found
                for r in v.rows
            )
            keys = ("number", "booked_on", "kind", "text", "account", "amount_minor")
            emit(fmt, [(k, k) for k in keys], flat)
            return
        rows = (
            {
                "number": v.number if i == 0 else "",
                "booked_on": v.booked_on if i == 0 else "",
                "text": v.text if i == 0 else "",
                "account": r.account,
                "debit": max(r.amount_minor, 0),
                "credit": max(-r.amount_minor, 0),
            }
            for v in found
            for i, r in enumerate(v.rows)
        )
        columns = [
            ("number", _("Ver.")),
            ("booked_on", _("Date")),
            ("text", _("Text")),
            ("account", _("Account")),
            ("debit", _("Debit amount")),
            ("credit", _("Credit amount")),
        ]
        currency = get_company(c.db).currency

        def display(key: str, value: Any) -> str:
            if key in ("debit", "credit"):
                return Money(value, currency).format() if value else ""
            return str(value)

        emit(fmt, columns, rows, display)

    @ledger.command("balance", help=_("An account's balance (debit positive)."))
    def balance(
        ctx: typer.Context,
        account: str = typer.Argument(...),
        date_to: str = typer.Option(None, "--to", help=_("YYYY-MM-DD, inclusive")),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.ledger.accounts import get_chart
        from verkstad.ledger.journal import balance as of
        from verkstad.orders.service import get_company

        c = ctx_of(ctx)
        amount = of(c.db, account, parse_date(date_to, "--to"))
        if fmt is OutputFormat.json:
            emit_json({"account": account, "balance_minor": amount})
            return
        name = get_chart(c.db).name(account)
        money = Money(amount, get_company(c.db).currency).format()
        info(f"{account} {name}: {money}".replace("  ", " "))

    @ledger.command("accounts", help=_("The chart: the account used for each role."))
    def accounts(ctx: typer.Context, fmt: OutputFormat = fmt_option) -> None:
        from verkstad.ledger.accounts import list_accounts

        rows = [v.__dict__ for v in list_accounts(ctx_of(ctx).db)]
        columns = [
            ("role", _("Role")),
            ("account", _("Account")),
            ("name", _("Name")),
            ("default", _("BAS default")),
            ("description", _("Used for")),
        ]
        emit(fmt, columns, rows)

    @ledger.command("set-account", help=_("Use another account for a role (ADMIN)."))
    def set_account(
        ctx: typer.Context,
        role: str = typer.Argument(..., help=_("e.g. payment.MOBIL, sales.25.part, fee.resurs")),
        account: str = typer.Argument(...),
        name: str = typer.Option(None, "--name", help=_("The account's name")),
    ) -> None:
        from verkstad.ledger.accounts import set_account as do

        c = ctx_of(ctx)
        view = do(c.db, c.actor, role, account, name)
        info(
            _("{role} now uses {account} {name}.").format(
                role=role, account=view.account, name=view.name
            )
        )

    @ledger.command("set", help=_("Payment terms (invoice.terms_days) or SIE series (ADMIN)."))
    def set_(
        ctx: typer.Context, key: str = typer.Argument(...), value: str = typer.Argument(...)
    ) -> None:
        from verkstad.ledger.accounts import set_setting

        c = ctx_of(ctx)
        info(f"{key} = {set_setting(c.db, c.actor, key, value)}")

    @settlement.command("import", help=_("Book a provider's settlement report."))
    def import_(
        ctx: typer.Context,
        file: Path = typer.Argument(..., help=_("The report (CSV)")),
        fmt: OutputFormat = fmt_option,
    ) -> None:
        from verkstad.ledger.settlement import import_settlement

        c = ctx_of(ctx)
        try:
            data = file.read_bytes()
        except OSError as e:
            raise DomainError(_("Cannot read {path}: {error}").format(path=file, error=e)) from None
        result = import_settlement(c.db, c.actor, data, file.name)
        if fmt is OutputFormat.json:
            emit_json(result.to_json())
            return
        info(
            _("{provider}: {booked} booked, {already} already booked, {left} not booked.").format(
                provider=result.provider.capitalize(),
                booked=result.count("booked"),
                already=result.count("already_booked"),
                left=result.count("unmatched") + result.count("mismatched"),
            )
        )
        if result.verification_numbers:
            numbers = ", ".join(str(n) for n in result.verification_numbers)
            info(_("Verifications: {numbers}").format(numbers=numbers))
        for o in result.outcomes:
            if o.status in ("unmatched", "mismatched"):
                typer.echo(
                    _("Line {n} ({ref}, {amount}): {reason}").format(
                        n=o.line_no,
                        ref=o.reference,
                        amount=Money(o.gross_minor, o.currency).format(),
                        reason=o.reason,
                    ),
                    err=True,
                )


# ---------------------------------------------------------------- exports


def _register_exports(app: typer.Typer) -> None:
    export = typer.Typer(help=_("Exports for the bookkeeper: SIE and CSV."), no_args_is_help=True)
    app.add_typer(export, name="export")
    output_opt = typer.Option(None, "-o", "--output", help=_("File (default: standard output)"))

    @export.command("sie", help=_("SIE 4I (vouchers) or 4E (year file) for a period."))
    def sie(
        ctx: typer.Context,
        date_from: str = typer.Option(..., "--from", help="YYYY-MM-DD"),
        date_to: str = typer.Option(..., "--to", help=_("YYYY-MM-DD, inclusive")),
        output: str = output_opt,
        sie_type: str = typer.Option("4i", "--type", help="4i | 4e"),
    ) -> None:
        from verkstad.ledger.sie import export_sie

        c = ctx_of(ctx)
        start, end = parse_date(date_from, "--from"), parse_date(date_to, "--to")
        for given, name in ((start, "--from"), (end, "--to")):
            if given is None:  # typed as "" (a required option can still be empty)
                raise ValidationError(name, _("must be a date written YYYY-MM-DD"))
        assert start is not None and end is not None
        with _output(output, binary=True) as out:
            count = export_sie(c.db, out, start, end, sie_type.lower())
        if output:
            info(_("Wrote {count} verifications to {path}.").format(count=count, path=output))

    @export.command("csv", help=_("The order list or the payments list as CSV."))
    def csv_(
        ctx: typer.Context,
        what: str = typer.Argument(..., help="orders | payments"),
        output: str = output_opt,
        dialect: str = typer.Option("excel", "--dialect", help=_("excel (Swedish Excel) | plain")),
        status: list[str] = typer.Option([], "--status", help=_("Status code; repeat for several")),
        customer: int = typer.Option(None, "--customer"),
        paid: bool = typer.Option(
            None, "--paid/--unpaid", help=_("Orders: payment received or not")
        ),
        received_from: str = typer.Option(None, "--received-from", help="YYYY-MM-DD"),
        received_to: str = typer.Option(None, "--received-to", help=_("YYYY-MM-DD, inclusive")),
        created_from: str = typer.Option(None, "--created-from", help="YYYY-MM-DD"),
        created_to: str = typer.Option(None, "--created-to", help=_("YYYY-MM-DD, inclusive")),
        method: str = typer.Option(None, "--payment-method"),
        search: str = typer.Option("", "--search"),
        sort: str = typer.Option("number", "--sort"),
        desc: bool = typer.Option(False, "--desc"),
        mine: bool = typer.Option(False, "--mine", help=_("Payments: only mine")),
        provider: str = typer.Option(None, "--provider", help=_("Payments: this provider only")),
    ) -> None:
        from verkstad.ledger.csv_export import Dialect

        c = ctx_of(ctx)
        try:
            chosen = Dialect(dialect.strip().lower())
        except ValueError:
            raise ValidationError("--dialect", _("must be excel or plain")) from None
        if what == "orders":
            from verkstad.cli.orders import build_filter
            from verkstad.ledger.csv_export import export_orders
            from verkstad.orders.queries import count_orders, sort_key

            flt = build_filter(
                status, customer, paid, received_from, received_to, created_from, created_to,
                method, search,
            )  # fmt: skip
            key = sort_key(sort)

            def write(out: TextIO, tick: Callable[[], None] | None) -> int:
                return export_orders(c.db, out, flt, chosen, key, desc, tick)

            def total() -> int:
                return count_orders(c.db, flt)
        elif what == "payments":
            from verkstad.ledger.csv_export import export_payments, payment_count

            pflt = _payment_filter(mine, status, provider, customer, created_from, created_to)

            def write(out: TextIO, tick: Callable[[], None] | None) -> int:
                return export_payments(c.db, c.actor, out, pflt, chosen, tick)

            def total() -> int:
                return payment_count(c.db, c.actor, pflt)
        else:
            raise ValidationError(_("What"), _("must be orders or payments"))
        with _output(output) as out, _progress(total, bool(output)) as tick:
            count = write(out, tick)
        if output:
            info(_("Wrote {count} rows to {path}.").format(count=count, path=output))


def _payment_filter(
    mine: bool,
    statuses: list[str],
    provider: str | None,
    customer: int | None,
    created_from: str | None,
    created_to: str | None,
) -> Any:
    from verkstad.mpay.payments import PaymentFilter
    from verkstad.mpay.status import PaymentState

    try:
        states = tuple(PaymentState(s.strip().upper()) for s in statuses)
    except ValueError:
        raise ValidationError(
            _("Status"), _("must be one of: {choices}").format(choices=", ".join(PaymentState))
        ) from None
    start, end = local_days(
        parse_date(created_from, "--created-from"),
        parse_date(created_to, "--created-to"),
        "--created-from",
        "--created-to",
    )
    return PaymentFilter(
        mine=mine,
        states=states,
        provider=provider.strip().lower() if provider else None,
        customer_number=customer,
        created_from=start,
        created_to=end,
    )
