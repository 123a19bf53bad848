"""The order: header, lines, totals, billing, payments, log, and every order action.

Which actions are available is shown (greyed in the footer and the Funktion
menu) from the order's status and its latest payment request; the services
enforce the same rules whatever the screen shows.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Header, Static, TabbedContent, TabPane

from verkstad.clock import format_datetime, now
from verkstad.formatting import format_percent_bp, format_quantity
from verkstad.i18n import _
from verkstad.money import Money
from verkstad.mpay.notify import MessageView
from verkstad.mpay.status import LIVE, PaymentState
from verkstad.mpay.views import PaymentView
from verkstad.orders.fields import VAT_RATES
from verkstad.orders.log_text import log_change
from verkstad.orders.service import LineInput
from verkstad.orders.status import (
    LINE_KINDS,
    LOCK_REASONS,
    PAID_LOCK_REASON,
    PAYMENT_METHOD_LABELS,
    OrderStatus,
    log_label,
)
from verkstad.orders.views import LineView, OrderView
from verkstad.screens.actions import BY_ID, bindings, key_label, menu_actions
from verkstad.screens.base import ServiceScreen
from verkstad.screens.dialogs import ChoiceDialog, ConfirmDialog, FormDialog
from verkstad.screens.footer import KeyBar
from verkstad.screens.plain import escape, plain_row
from verkstad.screens.table import Table

S = OrderStatus
PAID = (PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED)
KIND_LABELS = {kind: _(label) for kind, label in LINE_KINDS.items()}


def quantity(milli: int) -> str:
    return format_quantity(milli) if milli else ""


class OrderScreen(ServiceScreen):
    BINDINGS: ClassVar[list[BindingType]] = bindings("order")

    def __init__(self, number: int) -> None:
        super().__init__(id=f"order-{number}")
        self.number = number
        self.order: OrderView | None = None
        self.payment: PaymentView | None = None
        self.payments: list[PaymentView] = []
        self.messages: list[MessageView] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="order-top"):
            yield Static("", id="order-header")
            yield Button(_("Function") + " (F9)", id="function-button")
        yield Static("", id="lock-banner")
        yield Static("", id="payment-status")
        with TabbedContent(id="order-tabs"):
            with TabPane(_("Lines"), id="tab-lines"):
                yield Table(id="lines", cursor_type="row", zebra_stripes=True)
                yield Static("", id="totals")
            with TabPane(_("Billing"), id="tab-billing"):
                yield Static("", id="billing", markup=False)
            with TabPane(_("Payments"), id="tab-payments"):
                yield Table(id="payments", cursor_type="row")
                yield Static("", id="payment-events", markup=False)
            with TabPane(_("Log"), id="tab-log"):
                yield Table(id="log", cursor_type="row")
        yield KeyBar()

    async def on_mount(self) -> None:
        lines = self.query_one("#lines", DataTable)
        for label in (
            _("Kind"),
            _("Art. no."),
            _("Description"),
            _("Quantity"),
            _("Unit"),
            _("Unit price"),
            _("Discount %"),
            _("VAT %"),
            _("Amount excl. VAT"),
        ):
            lines.add_column(label)
        payments = self.query_one("#payments", DataTable)
        for label in (
            _("Reference"),
            _("Provider"),
            _("Status"),
            _("Amount"),
            _("Sent by"),
            _("Sent"),
            _("Paid"),
            _("Link"),
        ):
            payments.add_column(label)
        log = self.query_one("#log", DataTable)
        for label in (_("When"), _("User"), _("Action"), _("Before"), _("After"), _("Why")):
            log.add_column(label)
        lines.focus()
        await self.reload()
        self.set_interval(self.vapp.settings.poll_interval_seconds, self._poll_live)
        self.set_interval(1, self._tick)

    # ------------------------------------------------------------ loading and rendering

    async def reload(self) -> None:
        from verkstad.audit import history
        from verkstad.mpay.notify import messages_for_order
        from verkstad.mpay.payments import payments_of_order
        from verkstad.orders.service import get_order

        db = self.vapp.db
        order = await self.call(get_order, db, self.number)
        if order is None:
            return
        payments = await self.call(payments_of_order, db, self.number) or []
        log = await self.call(history, db, "order", self.number) or []
        messages = await self.call(messages_for_order, db, self.number) or []
        # All at once: the keys' checks never see the new order beside its old payment.
        self.order, self.payments, self.messages = order, payments, messages
        self.payment = payments[0] if payments else None
        self._show(order, log)
        self.refresh_bindings()

    def _show(self, order: OrderView, log: list[dict[str, Any]]) -> None:
        self.title = _("Order {n}").format(n=order.number)
        vehicle = order.vehicle
        vehicle_text = (
            f"{vehicle.reg_number} {vehicle.make} {vehicle.model}".strip() if vehicle else "—"
        )
        self.query_one("#order-header", Static).update(
            _("No. {n}  [b]{status}[/b]  ·  Cust. {c} {name}  ·  {vehicle}").format(
                n=order.number,
                status=order.status.value,
                c=order.customer.number,
                name=escape(order.customer.name),
                vehicle=escape(vehicle_text),
            )
        )
        banner = self.query_one("#lock-banner", Static)
        reason = LOCK_REASONS.get(order.status, "")
        if order.status == S.MPAY and order.payment_received:
            reason = PAID_LOCK_REASON
        banner.update(_(reason) if order.locked else "")
        banner.display = order.locked
        self.set_class(order.locked, "locked")
        self._render_lines(order)
        self._render_billing(order)
        self._render_payments()
        self._render_payment_status()
        table = self.query_one("#log", DataTable)
        table.clear()
        for entry in reversed(log):
            before, after = log_change(entry["before"], entry["after"])
            table.add_row(
                *plain_row(
                    format_datetime(entry["at"]),
                    entry["user"],
                    log_label(entry["action"]),
                    _short(before),
                    _short(after),
                    entry["reason"],
                )
            )

    def _render_lines(self, order: OrderView) -> None:
        table = self.query_one("#lines", DataTable)
        cursor = table.cursor_row
        table.clear()
        money = self._money
        for line in order.lines:
            priced = line.kind != "text"
            table.add_row(
                *plain_row(
                    KIND_LABELS.get(line.kind, line.kind),
                    line.article_number,
                    line.description,
                    quantity(line.quantity_milli),
                    line.unit,
                    money(line.unit_price_minor) if priced else "",
                    format_percent_bp(line.discount_bp),
                    f"{line.vat_rate}" if priced else "",
                    money(line.net_minor) if priced else "",
                ),
                key=str(line.id),
            )
        if order.lines:
            table.move_cursor(row=min(cursor, len(order.lines) - 1))
        t = order.totals
        rows = [_("Net: {amount}").format(amount=money(t.net))]
        rows += [
            _("VAT {rate} %: {vat} on {net}").format(
                rate=r.rate, vat=money(r.vat), net=money(r.net)
            )
            for r in t.rates
        ]
        rows.append(_("Rounding: {amount}").format(amount=money(t.rounding)))
        rows.append("[b]" + _("To pay: {amount}").format(amount=money(t.payable)) + "[/b]")
        self.query_one("#totals", Static).update("   ".join(rows))

    def _render_billing(self, order: OrderView) -> None:
        method = order.payment_method
        label = _(PAYMENT_METHOD_LABELS[method]) if method else "—"  # type: ignore[index]
        rows = [
            (_("Payment method"), f"{method} ({label})" if method else "—"),
            (_("Payment received"), "☑" if order.payment_received else "☐"),
            (_("Time payment was received"), format_datetime(order.payment_received_at) or "—"),
            (_("Invoice no."), str(order.invoice_number or "—")),
            (_("Posted"), format_datetime(order.posted_at) or "—"),
            (_("Copied from order"), str(order.copied_from or "—")),
            (_("Copied to order"), str(order.copied_to or "—")),
            (_("Notes"), order.notes or "—"),
        ]
        sent = [self._message_line(m) for m in self.messages]
        text = "\n".join(f"{k:<34} {v}" for k, v in rows)
        if sent:
            text += "\n\n" + _("Messages to the customer") + "\n" + "\n".join(sent)
        self.query_one("#billing", Static).update(text)

    @staticmethod
    def _message_line(m: MessageView) -> str:
        """How it was sent, to whom, its state and date (and why it has not gone yet)."""
        when = format_datetime(m.sent_at or m.created_at)
        files = f"  [{', '.join(m.attachments)}]" if m.attachments else ""
        error = f"  ({m.last_error})" if m.last_error and m.state != "SENT" else ""
        text = f"{when}  {m.channel_label:<7} {m.state_label:<13} {m.recipient}  {m.subject}"
        return text + files + error

    def _render_payments(self) -> None:
        table = self.query_one("#payments", DataTable)
        table.clear()
        for p in self.payments:
            table.add_row(
                *plain_row(
                    p.reference,
                    p.provider,
                    p.state_label,
                    Money(p.amount_minor, p.currency).format(),
                    p.created_by,
                    format_datetime(p.sent_at),
                    format_datetime(p.paid_at),
                    p.link or "",
                )
            )
        events = self.payment.events if self.payment else ()
        self.query_one("#payment-events", Static).update(
            "\n".join(
                f"{format_datetime(e.at)}  {e.user:<10} {e.kind:<18} {e.state or '':<12} {e.detail}"
                for e in events
            )
        )

    def _render_payment_status(self) -> None:
        label = self.query_one("#payment-status", Static)
        p = self.payment
        if p is None:
            label.update("")
            label.display = False
            return
        label.display = True
        text = _("Mobile payment {ref}: [b]{state}[/b]").format(
            ref=escape(p.reference), state=escape(p.state_label)
        )
        if p.state == PaymentState.RESERVED and p.capture_deadline:
            seconds = max(0, int((p.capture_deadline - now()).total_seconds()))
            text += "  " + _(
                "captured automatically in {m}:{s:02d} — {capture} capture now, {cancel} cancel"
            ).format(
                m=seconds // 60,
                s=seconds % 60,
                capture=self._key("capture"),
                cancel=self._key("cancel_payment"),
            )
        elif p.state in PAID and p.paid_at:
            text += "  " + _("received {time}").format(time=format_datetime(p.paid_at))
        elif p.failure_reason:
            text += f"  ({escape(p.failure_reason)})"
        label.update(text)

    def _money(self, minor: int) -> str:
        assert self.order is not None
        return Money(minor, self.order.currency).format()

    def _key(self, action_id: str) -> str:
        keymap = getattr(self.app, "_keymap", {})
        return key_label(keymap.get(action_id, BY_ID[action_id].key))

    # ------------------------------------------------------------ live status

    async def _poll_live(self) -> None:
        if self.payment is None or self.payment.state not in LIVE:
            return
        from verkstad.mpay.service import refresh

        before = self.payment.state
        view = await self.call(
            refresh, self.vapp.db, self.vapp.providers, self.vapp.actor, self.payment.id
        )
        if view is not None and view.state != before:
            await self.reload()

    def _tick(self) -> None:
        if self.payment is not None and self.payment.state == PaymentState.RESERVED:
            self._render_payment_status()

    # ------------------------------------------------------------ availability

    def _available(self, action: str) -> bool | None:
        """True: can be done now; None: shown greyed (the services refuse it anyway)."""
        order, p = self.order, self.payment
        if order is None:
            return None
        status = order.status
        editable = not order.locked
        rules: dict[str, bool] = {
            "add_line": editable,
            "edit_line": editable and bool(order.lines),
            "delete_line": editable and bool(order.lines),
            "complete": status == S.OPEN,
            "reopen": status == S.DONE and not order.payment_received,
            "send_payment": status == S.DONE and not order.payment_received,
            "check_payment": p is not None,
            "cancel_payment": status == S.MPAY,
            "capture": p is not None and p.state == PaymentState.RESERVED,
            "refund": p is not None and p.state in PAID and status != S.MPAY,
            "manual_mobile": status == S.DONE and not order.payment_received,
            "post": (status == S.DONE and order.payment_method is not None)
            or (status == S.MPAY and order.payment_received),
            "print_invoice": status in (S.POSTED, S.CREDITED),
            "email_invoice": status in (S.POSTED, S.CREDITED) and bool(order.customer.email),
            "credit": status == S.POSTED,
        }
        return True if rules.get(action, True) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("close", "function_menu") or action.startswith("tab_"):
            return True
        return self._available(action)

    # ------------------------------------------------------------ actions

    def action_close(self) -> None:
        self.app.pop_screen()

    def _show_tab(self, name: str) -> None:
        """1–4: Rader, Fakturering, Betalningar, Logg — the tab's table gets the keys."""
        self.query_one(TabbedContent).active = f"tab-{name}"
        for table in self.query_one(f"#tab-{name}", TabPane).query(DataTable):
            table.focus()

    def action_tab_lines(self) -> None:
        self._show_tab("lines")

    def action_tab_billing(self) -> None:
        self._show_tab("billing")

    def action_tab_payments(self) -> None:
        self._show_tab("payments")

    def action_tab_log(self) -> None:
        self._show_tab("log")

    @on(Button.Pressed, "#function-button")
    @work(group="dialogs")
    async def action_function_menu(self) -> None:
        choices = [
            (a.id, f"{_(a.label):<40} {self._key(a.id)}", bool(self._available(a.id)))
            for a in menu_actions()
        ]
        chosen = await self.app.push_screen_wait(ChoiceDialog(_("Function"), choices))
        if chosen:
            await self.run_action(chosen)

    async def _after(self, result: object, message: str | None = None) -> None:
        if result is not None and message:
            self.notify(message)  # it may name the order's lines
        await self.reload()

    async def action_complete(self) -> None:
        from verkstad.orders.service import complete

        assert self.order
        before = {line.id for line in self.order.lines}
        result = await self.call(
            complete, self.vapp.db, self.vapp.actor, self.number, self.order.version
        )
        message = _("Order {n} is now {status}.").format(n=self.number, status="KLART")
        if isinstance(result, OrderView):
            added = [x.description for x in result.lines if x.id not in before]
            if added:
                message += " " + _("Extra costs added: {lines}.").format(lines=", ".join(added))
        await self._after(result, message)

    async def action_reopen(self) -> None:
        from verkstad.orders.service import reopen

        assert self.order
        result = await self.call(
            reopen, self.vapp.db, self.vapp.actor, self.number, self.order.version
        )
        await self._after(
            result, _("Order {n} is now {status}.").format(n=self.number, status="ÖPPEN")
        )

    @work(group="dialogs")
    async def action_send_payment(self) -> None:
        from verkstad.screens.send_dialog import SendDialog

        assert self.order
        sent = await self.app.push_screen_wait(SendDialog(self.order))
        if sent is not None:
            self.notify(_("A payment SMS has been sent. The order is locked (MOBILBET)."))
        await self.reload()

    async def action_check_payment(self) -> None:
        from verkstad.mpay.service import check

        view = await self.call(
            check, self.vapp.db, self.vapp.providers, self.vapp.actor, self.number
        )
        if view is not None:
            self.notify(
                _("Mobile payment {ref}: {state}").format(
                    ref=view.reference, state=view.state_label
                )
            )
        await self.reload()

    @work(group="dialogs")
    async def action_cancel_payment(self) -> None:
        from verkstad.mpay.service import cancel

        paid = self.order is not None and self.order.payment_received
        question = (
            _(
                "The customer has paid. Cancel the payment request, refund the customer "
                "and open the order?"
            )
            if paid
            else _(
                "Cancel the payment request? The customer's link stops working and the order opens."
            )
        )
        if not await self.app.push_screen_wait(ConfirmDialog(question)):
            return
        view = await self.call(
            cancel, self.vapp.db, self.vapp.providers, self.vapp.actor, self.number
        )
        message = (
            _("The payment was refunded and the order is open again.")
            if paid
            else _("The payment request is cancelled and the order is open again.")
        )
        await self._after(view, message)

    async def action_capture(self) -> None:
        from verkstad.mpay.service import capture

        view = await self.call(
            capture, self.vapp.db, self.vapp.providers, self.vapp.actor, self.number
        )
        await self._after(view, _("The reserved payment has been captured."))

    @work(group="dialogs")
    async def action_refund(self) -> None:
        from verkstad.mpay.service import refund

        p = self.payment
        assert p is not None
        left = Money(p.captured_minor - p.refunded_minor, p.currency)

        async def save(values: dict[str, str]) -> bool:
            view = await self.call(
                refund,
                self.vapp.db,
                self.vapp.providers,
                self.vapp.actor,
                p.id,
                values["amount"],
                values["note"],
            )
            return view is not None

        fields = [("amount", _("Refund amount"), left.format()), ("note", _("Note"), "")]
        if await self.app.push_screen_wait(FormDialog(_("Refund"), fields, save)):
            self.notify(_("The refund has been made."))
        await self.reload()

    @work(group="dialogs")
    async def action_manual_mobile(self) -> None:
        from verkstad.mpay.service import record_manual

        async def save(values: dict[str, str]) -> bool:
            return await self.attempt(
                record_manual, self.vapp.db, self.vapp.actor, self.number, values["note"]
            )

        fields = [("note", _("Note (e.g. the Swish number and time)"), "")]
        await self.app.push_screen_wait(
            FormDialog(_("Register manual mobile payment"), fields, save)
        )
        await self.reload()

    async def action_post(self) -> None:
        from verkstad.ledger.posting import post_order

        assert self.order is not None
        posted = await self.call(
            post_order, self.vapp.db, self.vapp.actor, self.number, self.order.version
        )
        if posted is not None:
            self.notify(
                _("Order {n} is posted: invoice {invoice}, verification {ver}.").format(
                    n=self.number, invoice=posted.invoice_number, ver=posted.verification_number
                )
            )
        await self.reload()

    async def action_print_invoice(self) -> None:
        from verkstad.invoices.print import print_invoice

        path = await self.call(print_invoice, self.vapp.db, self.vapp.settings, self.number)
        if path is not None:
            self.notify(_("The invoice is saved as {path}.").format(path=path))

    @work(group="dialogs")
    async def action_email_invoice(self) -> None:
        from verkstad.invoices.mail import preview_invoice_email, send_invoice_email
        from verkstad.screens.invoice_mail import InvoiceMailDialog

        mail = await self.call(preview_invoice_email, self.vapp.db, self.number)
        if mail is None:
            return
        dialog = InvoiceMailDialog(mail, self.vapp.settings.print_folder())
        if not await self.app.push_screen_wait(dialog):
            return
        sent = await self.call(send_invoice_email, self.vapp.db, self.vapp.actor, self.number)
        if sent is not None:
            message = (
                _("Invoice {n} is queued for e-mail to {to}.")
                if sent.queued
                else _("Invoice {n} has already been e-mailed to {to}.")
            )
            self.notify(message.format(n=sent.invoice_number, to=sent.to))
        await self.reload()

    @work(group="dialogs")
    async def action_credit(self) -> None:
        from verkstad.ledger.credit import credit_order

        order = self.order
        assert order is not None
        question = _(
            "Credit invoice {invoice}? A credit note is booked, an M-Pay payment is refunded to "
            "the customer, and a copy of the order opens for changes."
        ).format(invoice=order.invoice_number)
        if not await self.app.push_screen_wait(ConfirmDialog(question)):
            return
        credit = await self.call(
            credit_order,
            self.vapp.db,
            self.vapp.providers,
            self.vapp.actor,
            self.number,
            None,
            order.version,
        )
        await self.reload()
        if credit is not None:
            self.notify(
                _("Credit note {n} for invoice {invoice} is booked.").format(
                    n=credit.number, invoice=credit.original_invoice_number
                )
            )
            if credit.copy_order_number:
                self.app.push_screen(OrderScreen(credit.copy_order_number))

    # ------------------------------------------------------------ lines

    def _selected_line(self) -> LineView | None:
        table = self.query_one("#lines", DataTable)
        if self.order is None or not self.order.lines or table.cursor_row < 0:
            return None
        return self.order.lines[min(table.cursor_row, len(self.order.lines) - 1)]

    async def _line_dialog(self, line: LineView | None) -> None:
        from verkstad.orders.service import add_line, update_line

        assert self.order is not None
        country = self.vapp.company_country
        kinds = [(k, label) for k, label in KIND_LABELS.items()]
        rates = [(str(r), f"{r} %") for r in VAT_RATES.get(country, VAT_RATES["SE"])]
        fields = [
            ("kind", _("Kind"), line.kind if line else "part"),
            ("description", _("Description"), line.description if line else ""),
            ("article_number", _("Article number"), line.article_number if line else ""),
            ("quantity", _("Quantity"), quantity(line.quantity_milli) if line else "1"),
            (
                "unit_price",
                _("Unit price excl. VAT"),
                Money(line.unit_price_minor).format().replace("\u00a0kr", "") if line else "",
            ),
            ("discount", _("Discount %"), format_percent_bp(line.discount_bp) if line else ""),
            (
                "vat_rate",
                _("VAT rate"),
                str(line.vat_rate) if line and line.kind != "text" else "25",
            ),
        ]

        async def save(values: dict[str, str]) -> bool:
            assert self.order is not None
            data = LineInput(
                values["description"],
                values["quantity"],
                values["unit_price"] or "0",
                values["vat_rate"],
                values["kind"],
                values["discount"],
                "",
                values["article_number"],
            )
            if line is None:
                result = await self.call(
                    add_line, self.vapp.db, self.vapp.actor, self.number, data, self.order.version
                )
            else:
                result = await self.call(
                    update_line,
                    self.vapp.db,
                    self.vapp.actor,
                    self.number,
                    line.id,
                    data,
                    self.order.version,
                )
            if result is not None:
                self.order = result
            return result is not None

        title = _("Edit line") if line else _("Add line")
        await self.app.push_screen_wait(
            FormDialog(title, fields, save, {"kind": kinds, "vat_rate": rates})
        )
        await self.reload()

    @work(group="dialogs")
    async def action_add_line(self) -> None:
        await self._line_dialog(None)

    @work(group="dialogs")
    async def action_edit_line(self) -> None:
        line = self._selected_line()
        if line is not None:
            await self._line_dialog(line)

    @on(DataTable.RowSelected, "#lines")
    def _line_chosen(self) -> None:
        if self._available("edit_line"):
            self.action_edit_line()

    @work(group="dialogs")
    async def action_delete_line(self) -> None:
        from verkstad.orders.service import delete_line

        line = self._selected_line()
        if line is None or self.order is None:
            return
        if await self.app.push_screen_wait(
            ConfirmDialog(_("Delete the line “{desc}”?").format(desc=line.description))
        ):
            await self.call(
                delete_line, self.vapp.db, self.vapp.actor, self.number, line.id, self.order.version
            )
            await self.reload()


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:59] + "…"
