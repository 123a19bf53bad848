"""The Textual app: the counter's order list (the full TUI grows here)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header

from verkstad.clock import format_datetime
from verkstad.db import Database
from verkstad.i18n import _
from verkstad.money import Money
from verkstad.orders.queries import COLUMNS, list_orders
from verkstad.users import Actor


class VerkstadApp(App[None]):
    TITLE = "verkstad"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", _("Quit"), id="quit"),
        Binding("f5", "refresh_list", _("Order list"), id="order_list"),
    ]
    CSS = "#orders { height: 1fr; }"

    def __init__(self, db: Database, actor: Actor) -> None:
        super().__init__()
        self.db = db
        self.actor = actor

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="orders", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = _("Workshop list") + f" — {self.actor.name}"
        table = self.query_one(DataTable)
        for _key, (_col, label, _n) in COLUMNS.items():
            table.add_column(_(label))
        self.action_refresh_list()

    def action_refresh_list(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for r in list_orders(self.db, sort="number", descending=True, limit=100).rows:
            table.add_row(
                str(r.number),
                str(r.customer_number),
                r.customer_name,
                r.reg_number or "",
                r.status,
                Money(r.total_minor, r.currency).format(),
                r.payment_method or "",
                "✓" if r.payment_received else "",
                format_datetime(r.received_at),
                format_datetime(r.created_at),
                str(r.invoice_number or ""),
            )
