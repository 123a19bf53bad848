"""Verkstadslista (F5): the order list, paged and filtered in SQL one window at a time.

The table never holds more than one screenful of rows: PageDown/PageUp (and the
arrow keys at the edges) fetch the next/previous keyset page, so the list is as
fast on a million orders as on ten.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, Label

from verkstad.clock import format_datetime, local_days, parse_date
from verkstad.errors import ValidationError
from verkstad.i18n import _, ngettext
from verkstad.money import Money
from verkstad.orders.queries import COLUMNS, Cursor, OrderFilter, OrderRow, list_orders
from verkstad.orders.status import OrderStatus
from verkstad.screens.actions import bindings
from verkstad.screens.base import ServiceScreen
from verkstad.screens.choice import ChoiceField
from verkstad.screens.footer import KeyBar
from verkstad.screens.plain import plain_row
from verkstad.screens.table import Table
from verkstad.users import get_preferences, set_preference

DEFAULT_COLUMNS = [
    "number",
    "customer_number",
    "customer_name",
    "reg_number",
    "status",
    "total",
    "payment_method",
    "payment_received",
    "received_at",
]
DEBOUNCE_SECONDS = 0.3
# The screen's lines around the table (app.tcss): the header, the filter bar, the status
# line and the footer. The first page is sized from the terminal with them before the
# layout exists, so it is painted with the screen rather than after it.
AROUND_THE_TABLE = 4


def cell(key: str, row: OrderRow) -> str:
    value = getattr(row, "total_minor" if key == "total" else key)
    if value is None:
        return ""
    if key == "total":
        return Money(value, row.currency).format()
    if key in ("received_at", "created_at"):
        return format_datetime(value)
    if key == "payment_received":
        return "✓" if value else ""
    return str(value)


class SearchField(Input):
    """The search field: its placeholder says what it searches, or only "Search…" where
    that does not fit (at 80 columns it showed "Search (no.,")."""

    def __init__(self, placeholder: str, short: str, *, id: str) -> None:
        super().__init__(placeholder=placeholder, id=id, compact=True)
        self._placeholders = placeholder, short

    def on_resize(self) -> None:
        full, short = self._placeholders
        self.placeholder = full if cell_len(full) < self.content_size.width else short


class OrderListScreen(ServiceScreen):
    BINDINGS: ClassVar[list[BindingType]] = bindings("list")
    # The list has the focus from the start: focusing it after the search field had it
    # redrew the footer's keys a second time (about 100 ms of the cold start).
    AUTO_FOCUS = "#orders"

    def __init__(self) -> None:
        super().__init__(id="order-list")
        self.columns: list[str] = DEFAULT_COLUMNS
        self.sort, self.descending = "number", True
        self.pages: list[Cursor | None] = [None]  # where each page visited so far starts
        self.next_cursor: Cursor | None = None
        self._debounce: Timer | None = None
        self._resumed = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters", classes="filter-bar"):
            yield SearchField(_("Search (no., name, reg.)"), _("Search…"), id="search")
            yield ChoiceField(
                [(s.value, s.value) for s in OrderStatus], _("All statuses"), id="status"
            )
            yield ChoiceField(
                [(_("Payment received"), "yes"), (_("Not received"), "no")],
                _("Paid or not"),
                id="paid",
            )
            yield Input(placeholder=_("Paid from"), id="received-from", compact=True)
            yield Input(placeholder=_("Paid through"), id="received-to", compact=True)
        yield Label("", id="list-status", markup=False)
        yield Table(id="orders", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    async def on_mount(self) -> None:
        self.title = _("Workshop list")
        prefs = await self.call(get_preferences, self.vapp.db, self.vapp.actor) or {}
        chosen = [c for c in prefs.get("order_columns", DEFAULT_COLUMNS) if c in COLUMNS]
        self.columns = chosen or DEFAULT_COLUMNS
        self.sort = (
            prefs.get("order_sort", self.sort) if prefs.get("order_sort") in COLUMNS else self.sort
        )
        self.descending = bool(prefs.get("order_desc", self.descending))
        self._build_columns()
        await self.reload()
        self.vapp.first_page_shown()  # even if the page failed: the counter's work goes on

    async def on_resize(self) -> None:
        if self.is_mounted and self.query_one(DataTable).row_count not in (0, self.page_size()):
            await self.load_page()

    # ------------------------------------------------------------ loading

    def page_size(self) -> int:
        height = self.query_one(DataTable).size.height
        if height == 0:  # not laid out yet: the height the layout will give it
            height = self.app.size.height - AROUND_THE_TABLE
        return max(10, height - 2)

    def _filter(self) -> OrderFilter | None:
        """The filter from the inputs, or None (with the reason shown) if a date or the range
        is wrong."""
        start, end = (self.query_one(f"#{id}", Input) for id in ("received-from", "received-to"))
        try:  # each field named as on screen: by its placeholder
            received_from, received_to = local_days(
                parse_date(start.value.strip(), start.placeholder),
                parse_date(end.value.strip(), end.placeholder),
                start.placeholder,
                end.placeholder,
            )
        except ValidationError as e:
            self.query_one("#list-status", Label).update(str(e))
            return None
        status = self.query_one("#status", ChoiceField).value
        paid = self.query_one("#paid", ChoiceField).value
        return OrderFilter(
            statuses=() if status is None else (OrderStatus(status),),
            text=self.query_one("#search", Input).value,
            received=None if paid is None else paid == "yes",
            received_from=received_from,
            received_to=received_to,
        )

    async def reload(self) -> None:
        self.pages = [None]
        await self.load_page()

    async def load_page(self, cursor_at_end: bool = False) -> None:
        flt = self._filter()
        if flt is None:
            return
        page = await self.call(
            list_orders,
            self.vapp.db,
            flt,
            self.sort,
            self.descending,
            self.pages[-1],
            self.page_size(),
        )
        if page is None:
            return
        self.next_cursor = page.next
        table = self.query_one(DataTable)
        table.clear()
        texts = [[cell(key, row) for key in self.columns] for row in page.rows]
        for row, values in zip(page.rows, texts, strict=True):
            table.add_row(*plain_row(*values), key=str(row.number))
        # Widen the columns now rather than when the table next idles: Textual keeps the
        # cells it paints before then, cut to the old widths (a first page drawn cropped).
        by_column = zip(*texts, strict=True)
        for column, column_texts in zip(table.ordered_columns, by_column, strict=False):
            column.content_width = max(column.content_width, *map(cell_len, column_texts))
        if cursor_at_end and page.rows:
            table.move_cursor(row=len(page.rows) - 1)
        label = _(COLUMNS[self.sort][1]) + (" ↓" if self.descending else " ↑")
        more = _("more follow (PageDown)") if page.next else _("end of list")
        self.query_one("#list-status", Label).update(
            _("Page {n} · sorted by {sort} · {more}").format(
                n=len(self.pages), sort=label, more=more
            )
        )

    def _build_columns(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for key in self.columns:
            table.add_column(_(COLUMNS[key][1]), key=key)

    def _schedule_reload(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, self.reload)

    @on(Input.Changed)
    @on(ChoiceField.Changed)
    def _filters_changed(self) -> None:
        self._schedule_reload()

    # ------------------------------------------------------------ paging

    async def action_next_page(self) -> None:
        if self.next_cursor is not None:
            self.pages.append(self.next_cursor)
            await self.load_page()

    async def action_previous_page(self, to_end: bool = False) -> None:
        if len(self.pages) > 1:
            self.pages.pop()
            await self.load_page(cursor_at_end=to_end)

    async def on_key(self, event: events.Key) -> None:
        table = self.query_one(DataTable)
        if not table.has_focus or table.row_count == 0:
            return
        if event.key == "down" and table.cursor_row == table.row_count - 1 and self.next_cursor:
            event.stop()
            await self.action_next_page()
        elif event.key == "up" and table.cursor_row == 0 and len(self.pages) > 1:
            event.stop()
            await self.action_previous_page(to_end=True)

    # ------------------------------------------------------------ actions

    async def action_export_csv(self) -> None:
        """The whole filtered list (not only this page) as a Swedish Excel file."""
        from verkstad.config import data_dir
        from verkstad.ledger.csv_export import export_to_folder

        flt = self._filter()
        if flt is None:
            return
        done = await self.call(
            export_to_folder,
            self.vapp.db,
            self.vapp.actor,
            data_dir() / "exports",
            flt,
            None,
            self.sort,
            self.descending,
        )
        if done is not None:
            path, n = done
            text = ngettext("{n} order exported to {path}", "{n} orders exported to {path}", n)
            self.notify(text.format(n=n, path=path), timeout=15)

    def action_focus_filter(self) -> None:
        self.query_one("#search", Input).focus()

    @on(Input.Submitted)
    def _to_results(self) -> None:
        """Enter in a filter goes to the list, where Enter opens the highlighted order."""
        self.query_one("#orders", DataTable).focus()

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        from verkstad.screens.order_form import OrderScreen

        self.app.push_screen(OrderScreen(int(str(event.row_key.value))))

    @on(DataTable.HeaderSelected)
    async def _sort_by_header(self, event: DataTable.HeaderSelected) -> None:
        await self._sort_by(str(event.column_key.value))

    async def _sort_by(self, key: str) -> None:
        self.descending = not self.descending if key == self.sort else False
        self.sort = key
        await self.call(set_preference, self.vapp.db, self.vapp.actor, "order_sort", self.sort)
        await self.call(
            set_preference, self.vapp.db, self.vapp.actor, "order_desc", self.descending
        )
        await self.reload()

    def on_click(self, event: events.Click) -> None:
        """A right-click on the column headers opens "Show column…", as in the seed's list."""
        table = self.query_one(DataTable)
        if event.button == 3 and event.widget is table and event.y == 0:
            self.action_choose_columns()

    @work(group="dialogs")
    async def action_choose_columns(self) -> None:
        columns = [(key, _(label)) for key, (_c, label, _n) in COLUMNS.items()]
        from verkstad.screens.dialogs import ColumnChooser

        chosen = await self.app.push_screen_wait(ColumnChooser(columns, self.columns))
        if chosen:
            self.columns = chosen
            await self.call(set_preference, self.vapp.db, self.vapp.actor, "order_columns", chosen)
            self._build_columns()
            await self.reload()

    @work(group="dialogs")
    async def action_sort_column(self) -> None:
        choices = [(key, _(COLUMNS[key][1]), True) for key in self.columns]
        from verkstad.screens.dialogs import ChoiceDialog

        key = await self.app.push_screen_wait(ChoiceDialog(_("Sort by"), choices))
        if key:
            await self._sort_by(key)

    @work(group="dialogs")
    async def action_new_order(self) -> None:
        from verkstad.orders.service import create_order
        from verkstad.screens.order_form import OrderScreen

        created: list[int] = []

        async def save(values: dict[str, str]) -> bool:
            number = values["customer"].strip()
            if not (number.isascii() and number.isdigit()):
                self.notify(
                    _("Customer number: enter the customer's number (F2 finds it)"),
                    severity="error",
                )
                return False
            order = await self.call(
                create_order, self.vapp.db, self.vapp.actor, int(number), values["vehicle"] or None
            )
            if order is not None:
                created.append(order.number)
            return order is not None

        fields = [("customer", _("Customer number"), ""), ("vehicle", _("Registration number"), "")]
        from verkstad.screens.dialogs import FormDialog

        await self.app.push_screen_wait(FormDialog(_("New order"), fields, save))
        if created:
            await self.app.push_screen(OrderScreen(created[0]))

    async def on_screen_resume(self) -> None:
        # Back from an order (it may have changed); the first resume is the screen's start,
        # whose page on_mount has just loaded.
        if self._resumed and self.is_mounted:
            await self.load_page()
        self._resumed = True
