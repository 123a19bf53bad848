"""Kunder (F2) driven with the keyboard, as at the desk.

The screens are imported inside the tests, not at collection: their key labels are
translated when their module is imported, and the tests read English.
"""

import pytest
from textual.widgets import DataTable, OptionList

from tests.helpers import customer
from tests.screens.conftest import wait_until
from verkstad.orders import service
from verkstad.orders.service import VehicleInput


@pytest.fixture(autouse=True)
def _no_debounce(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("verkstad.screens.customers.DEBOUNCE_SECONDS", 0.001)


def is_a(app, class_name: str) -> bool:
    return type(app.screen).__name__ == class_name


def names(app) -> list[str]:
    table = app.screen.query_one("#customer-table", DataTable)
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


async def open_customers(app, pilot) -> None:
    await pilot.press("f2")
    await wait_until(
        pilot,
        lambda: is_a(app, "CustomersScreen") and bool(app.screen.customers),
        "the customer list",
    )


async def test_search_finds_by_phone_as_said_and_by_registration(db, admin, make_app):
    customer(db, admin, "Anna Andersson", "+46701234567")
    bo = customer(db, admin, "Bo Ek", "073-555 12 34")
    service.add_vehicle(db, admin, bo, VehicleInput("ABC 123", "Volvo", "V70"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_customers(app, pilot)
        assert names(app) == ["Anna Andersson", "Bo Ek"]

        await pilot.press(*"070-123 45 67")
        await wait_until(pilot, lambda: names(app) == ["Anna Andersson"], "found by phone")
        assert "+46 70 123 45 67" in [str(c) for c in app.screen.query_one(DataTable).get_row_at(0)]

        await pilot.press("ctrl+u", *"abc 123")
        await wait_until(pilot, lambda: names(app) == ["Bo Ek"], "found by registration")

        await pilot.press("ctrl+u", *"xyz")
        await wait_until(pilot, lambda: names(app) == [], "nothing found")
        assert "Ctrl+N creates one" in str(app.screen.query_one("#customer-status").render())


async def test_a_bad_phone_is_named_and_nothing_is_created(db, admin, make_app):
    customer(db, admin)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_customers(app, pilot)
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: is_a(app, "FormDialog"), "the customer form")
        await pilot.press(*"Cecilia Ceder", "tab", *"070-12", "f10")
        await wait_until(
            pilot,
            lambda: any(
                "Mobile phone: is not a valid phone number" in n.message for n in app._notifications
            ),
            "the phone's message",
        )
        assert is_a(app, "FormDialog")  # still open, with what was typed
        assert service.search_customers(db, "Cecilia") == []

        await pilot.press("ctrl+u", *"070-765 43 21", "f10")
        await wait_until(pilot, lambda: names(app) == ["Cecilia Ceder"], "the new customer shown")
        created = service.search_customers(db, "Cecilia")
        assert [(c.phone, c.language) for c in created] == [("+46707654321", "sv")]


async def test_a_new_order_for_the_customer_opens_the_order(db, admin, make_app):
    number = customer(db, admin)
    service.add_vehicle(db, admin, number, VehicleInput("ABC123", "Volvo", "V70"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_customers(app, pilot)
        await pilot.press("enter", "ctrl+o")  # to the results, then a new order
        await wait_until(
            pilot,
            lambda: is_a(app, "OrderScreen") and app.screen.order is not None,
            "the order screen",
        )
        order = app.screen.order
        assert order.customer.number == number
        assert order.vehicle is not None and order.vehicle.reg_number == "ABC123"

        await pilot.press("escape")  # back to the customer
        await wait_until(pilot, lambda: is_a(app, "CustomersScreen"))


async def test_with_two_vehicles_the_new_order_asks_which(db, admin, make_app):
    number = customer(db, admin)
    service.add_vehicle(db, admin, number, VehicleInput("ABC123", "Volvo", "V70"))
    service.add_vehicle(db, admin, number, VehicleInput("XYZ789", "Saab", "9-3"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_customers(app, pilot)
        await pilot.press("enter", "ctrl+o")
        await wait_until(pilot, lambda: is_a(app, "ChoiceDialog"), "the vehicle choice")
        options = app.screen.query_one(OptionList)
        assert [options.get_option_at_index(i).id for i in range(options.option_count)] == [
            "ABC123",
            "XYZ789",
            "-",
        ]
        await pilot.press("down", "enter")
        await wait_until(
            pilot,
            lambda: is_a(app, "OrderScreen") and app.screen.order is not None,
            "the order screen",
        )
        assert app.screen.order.vehicle.reg_number == "XYZ789"


async def test_add_a_vehicle_to_the_selected_customer(db, admin, make_app):
    number = customer(db, admin)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_customers(app, pilot)
        await pilot.press("enter", "f6")
        await wait_until(pilot, lambda: is_a(app, "FormDialog"), "the vehicle form")
        await pilot.press(*"abc 123", "tab", *"Volvo", "f10")
        await wait_until(pilot, lambda: is_a(app, "CustomersScreen"))
        table = app.screen.query_one(DataTable)
        await wait_until(pilot, lambda: str(table.get_row_at(0)[5]) == "ABC123", "the vehicle")
        assert [v.reg_number for v in service.get_customer(db, number).vehicles] == ["ABC123"]


def test_snapshot(db, admin, make_app, snap_compare):
    for name, phone, email, city in (
        ("Anna Andersson", "070-123 45 67", "anna@example.se", "Västerås"),
        ("Bo Ek", "073-555 12 34", "", "Örebro"),
        ("Øyvind Berg", "+47 412 34 567", "oyvind@example.no", "Fredrikstad"),
    ):
        data = service.CustomerInput(name, phone, email, city=city)
        number = service.create_customer(db, admin, data).number
    service.add_vehicle(db, admin, number, VehicleInput("AB12345", "Tesla", "Model 3"))

    async def run_before(pilot) -> None:
        app = pilot.app
        await open_customers(app, pilot)
        await pilot.press("enter")  # the cursor in the results, not blinking in the search

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=run_before)
