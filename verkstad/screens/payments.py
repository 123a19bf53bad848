"""Betalningar (F3): Mina / Alla betalningar with filters and status icons; mark as read,
consolidate (PAYMENT_MANAGER only), cancel an open request, the event history, the order
behind a payment, and the shown list as CSV for Excel.
"""

from __future__ import annotations

from typing import Any, ClassVar

from babel.dates import format_time
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, Label

from verkstad.clock import format_date, format_datetime, local
from verkstad.config import data_dir
from verkstad.errors import ValidationError
from verkstad.i18n import N_, _, babel_locale, ngettext
from verkstad.money import Money
from verkstad.mpay.channels import PROVIDER_NAMES
from verkstad.mpay.notify import MessageView, messages_for_payment
from verkstad.mpay.payments import PaymentFilter, consolidate, get_payment, list_payments, mark_read
from verkstad.mpay.service import cancel_request
from verkstad.mpay.status import LIVE, STATE_LABELS, PaymentState
from verkstad.mpay.views import PaymentView
from verkstad.screens.actions import bindings
from verkstad.screens.base import ServiceScreen
from verkstad.screens.choice import ChoiceField
from verkstad.screens.dialogs import ConfirmDialog
from verkstad.screens.footer import KeyBar
from verkstad.screens.plain import plain_row
from verkstad.screens.table import Table
from verkstad.users import Role

S = PaymentState
LIMIT = 500  # newest first; filters find older ones
DEBOUNCE_SECONDS = 0.3
ICONS = {
    S.DECLINED: "✖",
    S.FAILED: "✖",
    S.EXPIRED: "⌛",
    S.CANCELLED: "⊘",
    S.REFUNDED: "↩",
    S.PARTIALLY_REFUNDED: "↩",
}
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
CONSOLIDABLE = (S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED)
NEEDS_PAYMENT = ("show_order", "payment_history", "mark_read", "consolidate", "cancel_request")

COLUMNS = {
    "icon": "",
    "reference": N_("Reference"),
    "order": N_("Order"),
    "customer": N_("Customer"),
    "amount": N_("Amount"),
    "sent_by": N_("Sent by"),
    "sent": N_("Sent"),
    "paid": N_("Paid"),
    "read": N_("Read"),
    "consolidated": N_("Consolidated"),
}
NAME_WIDTH = 18


def status_icon(p: PaymentView) -> str:
    """✔ paid (✔¹ after one failed try), ✖ declined/failed, ⌛ expired, ⊘ cancelled,
    ↩ refunded, … still open."""
    if p.state == S.PAID:
        return "✔" + (str(p.failed_attempts).translate(SUPERSCRIPT) if p.failed_attempts else "")
    return ICONS.get(p.state, "…")


def legend() -> str:
    return "  ".join(
        (
            "✔ " + _("paid"),
            "✔¹ " + _("paid after a failed try"),
            "✖ " + _("declined or failed"),
            "⌛ " + _("expired"),
            "⊘ " + _("cancelled"),
            "… " + _("open"),
            "↩ " + _("refunded"),
        )
    )


def columns(mine: bool) -> list[str]:
    """Whether one has read it matters in Mina, who sent it in Alla (so both fit 120 columns)."""
    who = "read" if mine else "sent_by"
    return ["icon", "reference", "order", "customer", "amount", "sent", "paid", who, "consolidated"]


def cell(key: str, p: PaymentView) -> str | Text:
    if key == "icon":
        return status_icon(p)
    if key == "order":
        return str(p.order_number or "")
    if key == "customer":
        name = p.customer_name
        return name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + "…"
    if key == "amount":
        return Text(Money(p.amount_minor, p.currency).format(), justify="right")
    if key == "sent":
        return format_datetime(p.sent_at)
    if key == "paid":
        return _paid(p)
    if key == "read":
        return "✓" if p.read else ""
    if key == "consolidated":
        return format_date(p.consolidated_at)
    return p.created_by if key == "sent_by" else p.reference


def _paid(p: PaymentView) -> str:
    """The paid time; the time alone when it was paid the day it was sent."""
    if p.paid_at and p.sent_at and local(p.paid_at).date() == local(p.sent_at).date():
        return format_time(local(p.paid_at), format="short", locale=babel_locale())
    return format_datetime(p.paid_at)


class DigitsField(Input):
    """A number field: a key that is not a digit is refused with a word, not only a bell."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(restrict=r"[0-9]*", **kwargs)

    def restricted(self) -> None:
        self.app.bell()
        rule = ValidationError(self.placeholder, _("only digits are allowed"))
        self.app.notify(str(rule), severity="warning", timeout=4)


class PaymentsScreen(ServiceScreen):
    BINDINGS: ClassVar[list[BindingType]] = bindings("payments")

    def __init__(self) -> None:
        super().__init__(id="payments-screen")
        self.payments: list[PaymentView] = []
        self.mine = True
        self._generation = 0  # only the latest load may fill the table
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="payment-filters", classes="filter-bar"):
            yield ChoiceField(
                [(_(STATE_LABELS[s]), s.value) for s in PaymentState],
                _("All statuses"),
                id="payment-state",
            )
            yield ChoiceField(
                [(name.capitalize(), name) for name in PROVIDER_NAMES],
                _("All providers"),
                id="payment-provider",
            )
            yield DigitsField(placeholder=_("Cust. no."), id="payment-customer", compact=True)
        yield Label("", id="payments-info")
        yield Table(id="payment-table", cursor_type="row", zebra_stripes=True)
        yield Label(legend(), id="payments-legend")
        yield KeyBar()

    def on_mount(self) -> None:
        self.mine = self.vapp.actor.role != Role.PAYMENT_MANAGER  # the bookkeeper sees all
        self.query_one(DataTable).focus()
        self.set_interval(self.vapp.settings.poll_interval_seconds, self._follow_open)

    async def on_screen_resume(self) -> None:
        await self.reload()

    # ------------------------------------------------------------ loading

    def _filter(self) -> PaymentFilter:
        state = self.query_one("#payment-state", ChoiceField).value
        provider = self.query_one("#payment-provider", ChoiceField).value
        customer = self.query_one("#payment-customer", Input).value
        return PaymentFilter(
            mine=self.mine,
            states=() if state is None else (PaymentState(state),),
            provider=provider,
            customer_number=int(customer) if customer else None,
        )

    async def reload(self) -> None:
        self.title = _("My payments") if self.mine else _("All payments")
        keys = columns(self.mine)
        self._generation += 1
        generation = self._generation
        found = await self.call(list_payments, self.vapp.db, self.vapp.actor, self._filter(), LIMIT)
        if found is None or generation != self._generation:
            return
        table = self.query_one(DataTable)
        keep = self.selected()
        self.payments = found
        if [c.key.value for c in table.columns.values()] != keys:
            table.clear(columns=True)
            for key in keys:
                table.add_column(_(COLUMNS[key]) if COLUMNS[key] else "", key=key)
        table.clear()
        for p in found:
            table.add_row(*plain_row(*(cell(key, p) for key in keys)), key=str(p.id))
        ids = [p.id for p in found]
        if keep is not None and keep.id in ids:
            table.move_cursor(row=ids.index(keep.id))
        more = _("the newest {n} are shown; filter to find older ones").format(n=LIMIT)
        count = ngettext("{n} payment", "{n} payments", len(found)).format(n=len(found))
        self.query_one("#payments-info", Label).update(
            count + (f" · {more}" if len(found) >= LIMIT else "")
        )
        self.refresh_bindings()

    async def _follow_open(self) -> None:
        """While a shown request is open, keep its status current (the app polls the provider)."""
        if self.is_current and any(p.state in LIVE for p in self.payments):
            await self.reload()

    @on(Input.Changed, "#payment-customer")
    @on(ChoiceField.Changed)
    def _filters_changed(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, self.reload)

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self.refresh_bindings()

    def selected(self) -> PaymentView | None:
        if not self.payments:
            return None
        row = self.query_one(DataTable).cursor_row
        return self.payments[min(row, len(self.payments) - 1)] if row >= 0 else None

    # ------------------------------------------------------------ availability

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """True: can be done now; None: shown greyed; False: hidden (not for this role)."""
        if action == "consolidate" and self.vapp.actor.role != Role.PAYMENT_MANAGER:
            return False
        if action not in NEEDS_PAYMENT:
            return True
        p = self.selected()
        if p is None:
            return None
        rules = {
            "show_order": p.order_number is not None,
            "consolidate": p.state in CONSOLIDABLE and p.consolidated_at is None,
            "cancel_request": p.state in LIVE,
        }
        return True if rules.get(action, True) else None

    # ------------------------------------------------------------ actions

    def action_leave_payments(self) -> None:
        self.app.pop_screen()

    async def action_toggle_mine(self) -> None:
        self.mine = not self.mine
        await self.reload()

    @on(DataTable.RowSelected, "#payment-table")
    def action_show_order(self) -> None:
        from verkstad.screens.order_form import OrderScreen

        p = self.selected()
        if p is None:
            return
        if p.order_number is None:
            self.notify(
                _(
                    "Payment {ref} is not for an order (a free request from the customer card)."
                ).format(ref=p.reference)
            )
        else:
            self.app.push_screen(OrderScreen(p.order_number))

    async def action_mark_read(self) -> None:
        p = self.selected()
        if p is not None and await self.attempt(mark_read, self.vapp.db, self.vapp.actor, p.id):
            self.notify(_("Payment {ref} marked as read.").format(ref=p.reference))
            await self.reload()

    async def action_consolidate(self) -> None:
        p = self.selected()
        if p is not None and await self.attempt(consolidate, self.vapp.db, self.vapp.actor, p.id):
            self.notify(_("Payment {ref} consolidated.").format(ref=p.reference))
            await self.reload()

    @work(group="dialogs")
    async def action_cancel_request(self) -> None:
        p = self.selected()
        if p is None:
            return
        question = _("Cancel payment request {ref}? The customer's link stops working.").format(
            ref=p.reference
        )
        if p.order_number is not None:
            question += " " + _("Order {n} opens again.").format(n=p.order_number)
        if not await self.app.push_screen_wait(ConfirmDialog(question)):
            return
        vapp = self.vapp
        view = await self.call(cancel_request, vapp.db, vapp.providers, vapp.actor, p.id)
        if view is not None:
            self.notify(_("Payment request {ref} is cancelled.").format(ref=p.reference))
        await self.reload()

    @work(group="dialogs")
    async def action_payment_history(self) -> None:
        p = self.selected()
        if p is None:
            return
        view = await self.call(get_payment, self.vapp.db, p.id)
        messages = await self.call(messages_for_payment, self.vapp.db, p.id)
        if view is not None:
            await self.app.push_screen_wait(HistoryDialog(view, messages or []))

    async def action_export_csv(self) -> None:
        from verkstad.ledger.csv_export import export_to_folder

        done = await self.call(
            export_to_folder,
            self.vapp.db,
            self.vapp.actor,
            data_dir() / "exports",
            payments=self._filter(),
        )
        if done is not None:
            path, n = done
            count = ngettext("{n} payment", "{n} payments", n).format(n=n)
            self.notify(_("{count} exported to {path}").format(count=count, path=path), timeout=15)


class HistoryDialog(ModalScreen[None]):
    """What happened to one payment request, in order."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f6", "dismiss", _("Close"))]

    def __init__(self, payment: PaymentView, messages: list[MessageView]) -> None:
        super().__init__(classes="dialog")
        self.payment = payment
        self.messages = messages  # the link's SMS or e-mail: was it delivered?

    def compose(self) -> ComposeResult:
        p = self.payment
        with Vertical(classes="dialog-box", id="history-box"):
            yield Label(
                _("Payment {ref} — {state}").format(ref=p.reference, state=p.state_label),
                classes="dialog-title",
                markup=False,
            )
            yield Table(id="history-table", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in (_("Time"), _("User"), _("Event"), _("Status"), _("Detail")):
            table.add_column(label)
        rows = [
            (
                e.at,
                e.user,
                e.kind_label,
                e.state_label,
                e.detail,
            )
            for e in self.payment.events
        ]
        for m in self.messages:
            detail = m.recipient + (f" ({m.last_error})" if m.last_error else "")
            rows.append((m.sent_at or m.created_at, "", m.channel_label, m.state_label, detail))
        for at, *cells in sorted(rows, key=lambda row: row[0]):
            table.add_row(*plain_row(format_datetime(at), *cells))
        table.focus()
