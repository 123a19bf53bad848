"""The order list and the order screen driven with the keyboard, as staff use them."""

import gc

from textual.widgets import DataTable, Input, Static, TabbedContent

from tests.helpers import customer, order_with_lines
from tests.screens.conftest import wait_until
from verkstad.orders import service
from verkstad.orders.status import OrderStatus
from verkstad.screens import order_list
from verkstad.screens.order_form import OrderScreen
from verkstad.screens.order_list import OrderListScreen
from verkstad.users import Role, add_user


def _rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_list_shows_orders_and_filters_by_text(db, admin, make_app):
    order = order_with_lines(db, admin, customer(db, admin, "Åsa Öberg"))
    service.create_order(db, admin, customer(db, admin, "Bo Ek"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, OrderListScreen))
        table = app.screen.query_one("#orders", DataTable)
        await wait_until(pilot, lambda: table.row_count == 2, "two orders listed")
        assert _rows(table)[1][:3] == [str(order.number), "10001", "Åsa Öberg"]
        await pilot.press("slash", *"öberg")
        await wait_until(pilot, lambda: table.row_count == 1, "the filtered list")
        assert _rows(table)[0][2] == "Åsa Öberg"
        await pilot.press("enter", "enter")  # to the list, then open the order found
        await wait_until(pilot, lambda: isinstance(app.screen, OrderScreen), "the order")
        assert app.screen.number == order.number


async def test_bad_date_filter_says_so_and_keeps_the_list(db, admin, make_app):
    order_with_lines(db, admin)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#orders", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1)
        app.screen.query_one("#received-from", Input).value = "2026-13-40"
        status = app.screen.query_one("#list-status", Static)
        message = "Paid from: must be a date written YYYY-MM-DD"  # named as on screen
        await wait_until(pilot, lambda: message in str(status.render()), "the date message")
        assert table.row_count == 1


async def test_a_range_that_ends_before_it_starts_says_so_and_keeps_the_list(db, admin, make_app):
    order_with_lines(db, admin)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#orders", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1)
        app.screen.query_one("#received-from", Input).value = "2026-03-05"
        app.screen.query_one("#received-to", Input).value = "2026-03-04"
        status = app.screen.query_one("#list-status", Static)
        message = "Paid through: must not be before Paid from"  # it would list nothing
        await wait_until(pilot, lambda: message in str(status.render()), "the range message")
        assert table.row_count == 1
        app.screen.query_one("#received-to", Input).value = "2026-03-05"  # one whole day
        await wait_until(pilot, lambda: "Page 1" in str(status.render()), "the list again")


async def test_open_add_line_complete_and_locked(db, admin, make_app):
    order = order_with_lines(db, admin)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#orders", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen.order is not None
        )
        screen = app.screen
        lines = screen.query_one("#lines", DataTable)
        assert lines.row_count == 2
        assert "3\u00a0812,00" in str(
            screen.query_one("#totals", Static).render()
        ) or "3,812.00" in str(screen.query_one("#totals", Static).render())

        await pilot.press("a")  # add a line through the dialog
        await wait_until(pilot, lambda: app.screen is not screen, "the line dialog")
        app.screen.query_one("#description", Input).value = "Torkarblad"
        app.screen.query_one("#quantity", Input).value = "2"
        app.screen.query_one("#unit_price", Input).value = "abc"
        await pilot.press("f10")
        await wait_until(
            pilot, lambda: any("Unit price" in n.message for n in app._notifications), "refusal"
        )
        assert app.screen is not screen  # the dialog stays open with the typed values
        price = app.screen.query_one("#unit_price", Input)
        await wait_until(pilot, lambda: app.focused is price, "the cursor on the field to fix")
        price.value = "249"
        await pilot.press("f10")
        await wait_until(
            pilot, lambda: app.screen is screen and lines.row_count == 3, "the new line"
        )

        await pilot.press("ctrl+k")  # Klarmarkera
        await wait_until(
            pilot, lambda: screen.order is not None and screen.order.status == OrderStatus.DONE
        )
        log = screen.query_one("#log", DataTable)
        await wait_until(pilot, lambda: str(log.get_row_at(0)[2]) == "Mark complete", "the log")
        await pilot.press("4")  # the Logg tab, its table taking the keys
        await wait_until(pilot, lambda: app.focused is log, "the log in focus")
        assert screen.query_one("#order-tabs", TabbedContent).active == "tab-log"
        await pilot.press("1")
        await wait_until(pilot, lambda: app.focused is lines, "back on the lines")

    with db.session() as s:  # another counter sent a payment request meanwhile
        service.lock_order(s, order.number).status = OrderStatus.MPAY
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(
            pilot,
            lambda: (
                app.screen.query("#orders")
                and app.screen.query_one("#orders", DataTable).row_count == 1
            ),
        )
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen.order is not None
        )
        screen = app.screen
        assert screen.has_class("locked")
        assert "Cancel" in str(screen.query_one("#lock-banner", Static).render())
        assert screen.check_action("add_line", ()) is None
        await pilot.press("a", "delete")
        await pilot.pause()
        assert screen.query_one("#lines", DataTable).row_count == 3
    assert len(service.get_order(db, order.number).lines) == 3


async def test_function_menu_greys_what_the_status_forbids(db, admin, make_app):
    order_with_lines(db, admin)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one("#orders", DataTable).row_count == 1)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen.order is not None
        )
        await pilot.press("f9")
        from textual.widgets import OptionList

        await wait_until(pilot, lambda: bool(app.screen.query(OptionList)), "the menu")
        options = app.screen.query_one(OptionList)
        enabled = {
            options.get_option_at_index(i).id
            for i in range(options.option_count)
            if not options.get_option_at_index(i).disabled
        }
        assert (
            "complete" in enabled
            and "send_payment" not in enabled
            and "cancel_payment" not in enabled
        )


async def test_f7_exports_the_whole_filtered_list(db, admin, make_app):
    import csv

    from verkstad.config import data_dir

    for name in ("Åsa Öberg", "Bo Ek", "Åke Öberg"):
        service.create_order(db, admin, customer(db, admin, name))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#orders", DataTable)
        await wait_until(pilot, lambda: table.row_count == 3)
        await pilot.press("slash", *"öberg")
        await wait_until(pilot, lambda: table.row_count == 2)
        await pilot.press("f7")
        await wait_until(pilot, lambda: any("exported to" in n.message for n in app._notifications))
    [path] = (data_dir() / "exports").iterdir()
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert sorted(r[2] for r in rows[1:]) == ["Åke Öberg", "Åsa Öberg"]


async def test_completing_shows_the_extra_costs_the_rules_added(db, admin, make_app):
    from verkstad.orders.extra_costs import add_rule

    add_rule(db, admin, "service", "Miljöavgift", "75")
    order_with_lines(db, admin)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#orders", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen.order is not None
        )
        screen = app.screen
        lines = screen.query_one("#lines", DataTable)
        await pilot.press("ctrl+k")  # Klarmarkera
        await wait_until(pilot, lambda: lines.row_count == 3, "the fee line")
        assert "Miljöavgift" in [str(c) for c in lines.get_row_at(2)]
        assert any("Extra costs added: Miljöavgift." in n.message for n in app._notifications)


async def test_a_page_is_drawn_with_its_columns_already_wide_enough(db, admin, make_app):
    """The columns fit a page's widest cell as soon as its rows are in, not only once the
    table next idles: Textual keeps cells painted before then, cut to the old width (the
    counter's first page was drawn cropped, "21" for order 21101)."""
    service.create_order(db, admin, customer(db, admin, "Bo"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        table = screen.query_one("#orders", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, "Bo's order")
        long_name = "Maximiliana Långnamnsson-Öberg"
        service.create_order(db, admin, customer(db, admin, long_name))
        screen.query_one("#search", Input).value = "Maximiliana"
        await screen.reload()  # no pause after it: the table has not idled yet
        assert str(table.get_row_at(0)[2]) == long_name
        assert table.columns["customer_name"].content_width >= len(long_name)


async def test_the_first_page_is_read_once_at_the_height_the_layout_gives(
    db, admin, make_app, monkeypatch
):
    """The first page is read before the screen is laid out, sized from the terminal: a
    wrong guess of the lines around the table would read and draw the list a second time."""
    number = customer(db, admin, "Åsa Öberg")
    for _ in range(40):  # more than a page at this size
        service.create_order(db, admin, number)
    sizes: list[int] = []
    real = order_list.list_orders

    def counted(*args):  # type: ignore[no-untyped-def]
        sizes.append(args[-1])
        return real(*args)

    monkeypatch.setattr(order_list, "list_orders", counted)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        table = screen.query_one("#orders", DataTable)
        await wait_until(pilot, lambda: table.size.height > 0, "the laid-out list")
        await pilot.pause()
        assert isinstance(screen, OrderListScreen)
        assert sizes == [screen.page_size()] == [table.row_count]
        assert table.size.height == table.row_count + 2  # its header and a spare line


async def test_a_first_page_that_fails_still_starts_the_counters_work(
    db, admin, make_app, monkeypatch
):
    """What starts after the first page (who is at the counter, the collector open_tui holds
    off during start-up) starts even when that page could not be read."""
    add_user(db, admin, "bo", Role.STAFF, "Bo Ek")

    def broken(*args):  # type: ignore[no-untyped-def]
        raise OSError("disk I/O error")

    monkeypatch.setattr(order_list, "list_orders", broken)
    app = make_app()
    app.pick_user = True
    gc.disable()  # as open_tui does before it starts the app
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            name = lambda: type(app.screen).__name__  # noqa: E731
            await wait_until(pilot, lambda: name() == "ChoiceDialog", "who is at the counter")
            assert gc.isenabled()
            assert app.screen_stack[0].query_one("#orders", DataTable).row_count == 0
    finally:
        gc.enable()
