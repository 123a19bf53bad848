"""What users type is shown as typed, never read as markup.

Textual reads a str as markup in a table cell, a Static or Label, a notification: a
customer named "Kund [ny] AB" was shown as "Kund  AB", "[/bil]" in a name stopped the
list's paint with a MarkupError (a traceback in the TUI), ":car:" became an emoji.
"""

from textual.content import Content
from textual.widgets import DataTable, Input, Label, Static

from tests.helpers import customer
from tests.mpay.only_channel import use_only_channel
from tests.screens.conftest import wait_until
from tests.screens.test_payments_tui import notified, open_payments, payment
from verkstad.orders import service
from verkstad.orders.service import LineInput, VehicleInput
from verkstad.screens.order_form import OrderScreen
from verkstad.screens.order_list import OrderListScreen
from verkstad.screens.payments import NAME_WIDTH

NAME = "Nilsson [/bil] :car: [ny]"
LINE = "Däck [/bil] [Ny] :car: [ b ]"
NOTES = "Ring först [/kund] [Kund AB]"
MAKE, MODEL = "Volvo [/x]", "V70 [Ny]"
REFERENCE = "R [/x] :car:"


def shown(widget: Static) -> str:
    """The text a Static or Label paints (rendering it raises what its paint would)."""
    return str(widget.render())


def cell(table: DataTable, row: int, column: int) -> str:
    return str(table.get_row_at(row)[column])


def is_a(app, class_name: str) -> bool:
    return type(app.screen).__name__ == class_name


async def test_a_name_line_and_note_with_brackets_are_shown_as_typed(db, admin, make_app):
    number = customer(db, admin, NAME)
    service.add_vehicle(db, admin, number, VehicleInput("ABC123", MAKE, MODEL))
    order = service.create_order(db, admin, number, "ABC123", NOTES)
    service.add_line(db, admin, order.number, LineInput(LINE, "1", "100", "25", "part"))
    payment(db, number, "admin", REFERENCE, order_number=order.number)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        # The order list.
        await wait_until(pilot, lambda: isinstance(app.screen, OrderListScreen))
        table = app.screen.query_one("#orders", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, "the order listed")
        assert cell(table, 0, 2) == NAME
        await pilot.pause()  # painted

        # The order: its header (bold status kept), lines, notes and payment status.
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, OrderScreen) and app.screen.order is not None,
            "the order",
        )
        screen = app.screen
        header = screen.query_one("#order-header", Static).render()
        assert isinstance(header, Content)
        assert f"{number} {NAME}  ·  ABC123 {MAKE} {MODEL}" in header.plain
        assert [header.plain[s.start : s.end] for s in header.spans] == ["ÖPPEN"]
        assert cell(screen.query_one("#lines", DataTable), 0, 2) == LINE
        status = shown(screen.query_one("#payment-status", Static))
        assert f"Mobile payment {REFERENCE}: " in status
        await pilot.pause()
        await pilot.press("2")  # Fakturering, with the notes
        await wait_until(pilot, lambda: NOTES in shown(screen.query_one("#billing", Static)))
        await pilot.press("3")  # Betalningar
        payments = screen.query_one("#payments", DataTable)
        await wait_until(pilot, lambda: app.focused is payments, "the payments tab")
        assert cell(payments, 0, 0) == REFERENCE
        await pilot.pause()

        # Kunder (F2).
        await pilot.press("escape", "f2")
        await wait_until(
            pilot,
            lambda: is_a(app, "CustomersScreen") and bool(app.screen.customers),
            "the customer list",
        )
        assert cell(app.screen.query_one("#customer-table", DataTable), 0, 1) == NAME
        await pilot.pause()

        # Betalningar (F3) and a payment's history.
        await open_payments(app, pilot, 1)
        table = app.screen.query_one("#payment-table", DataTable)
        assert cell(table, 0, 1) == REFERENCE
        assert cell(table, 0, 3) == NAME[: NAME_WIDTH - 1] + "…"
        await pilot.pause()
        await pilot.press("f6")
        await wait_until(pilot, lambda: is_a(app, "HistoryDialog"), "the history")
        assert REFERENCE in shown(app.screen.query_one(".dialog-title", Label))
        await pilot.pause()


async def test_a_search_with_brackets_is_quoted_as_typed(db, admin, make_app):
    customer(db, admin)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: is_a(app, "CustomersScreen") and app.screen.customers)
        await pilot.press(*"[/x]")
        status = app.screen.query_one("#customer-status", Label)
        await wait_until(pilot, lambda: "“[/x]”" in shown(status), "no customer matches “[/x]”")
        await pilot.pause()


async def test_vehicles_with_brackets_are_offered_as_typed(db, admin, make_app):
    number = customer(db, admin)
    service.add_vehicle(db, admin, number, VehicleInput("ABC123", MAKE, MODEL))
    service.add_vehicle(db, admin, number, VehicleInput("XYZ789", "Saab", "9-3 [/bil]"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: is_a(app, "CustomersScreen") and app.screen.customers)
        await pilot.press("enter", "ctrl+o")  # a new order: which vehicle?
        await wait_until(pilot, lambda: is_a(app, "ChoiceDialog"), "the vehicle choice")
        await pilot.pause()  # painted
        await pilot.press("escape")
        await wait_until(pilot, lambda: is_a(app, "CustomersScreen"))


async def test_a_refusal_quoting_what_was_typed_is_notified_as_typed(db, admin, make_app):
    """The service's message quotes the reference typed, "[/x] :car:" included."""
    use_only_channel(db, admin, "swish")
    number = customer(db, admin)
    payment(db, number, "admin", REFERENCE)  # the reference is taken
    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.press("f2")
        await wait_until(pilot, lambda: is_a(app, "CustomersScreen") and app.screen.customers)
        await pilot.press("enter", "ctrl+s")  # request a payment from the customer
        await wait_until(pilot, lambda: is_a(app, "FormDialog"), "the request form")
        app.screen.query_one("#amount", Input).value = "500"
        app.screen.query_one("#reference", Input).value = REFERENCE
        await pilot.press("f10")
        message = f"“{REFERENCE}” is already used"
        await wait_until(pilot, lambda: notified(app, message), "the refusal")
        await wait_until(pilot, lambda: bool(app.screen.query("Toast")), "the refusal shown")
        assert message in shown(app.screen.query_one("Toast", Static))
        await pilot.pause()  # painted
        assert is_a(app, "FormDialog")  # still open, to correct the reference
