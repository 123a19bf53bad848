"""The filter bars' drop-down (ChoiceField), alone and in the order list."""

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList

from tests.helpers import customer, order_with_lines
from tests.screens.conftest import wait_until
from verkstad.clock import now
from verkstad.i18n import LANGUAGES, _, set_language
from verkstad.orders import service
from verkstad.orders.status import PaymentMethod
from verkstad.screens.choice import ChoiceField, ChoicePopup
from verkstad.screens.order_list import OrderListScreen

CHOICES = [("Röd [bil]", "red"), ("Blå", "blue")]


class OneField(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.changes: list[str | None] = []

    def compose(self) -> ComposeResult:
        yield ChoiceField(CHOICES, "Alla färger", id="colour")

    def on_choice_field_changed(self, event: ChoiceField.Changed) -> None:
        self.changes.append(event.control.value)


def _shown(app: OneField) -> str:
    return str(app.query_one(ChoiceField).render()).rstrip()


async def test_enter_opens_the_choices_under_the_field_and_picks_one() -> None:
    app = OneField()
    async with app.run_test(size=(60, 12)) as pilot:
        field = app.query_one(ChoiceField)
        assert field.value is None and _shown(app).startswith("Alla färger")
        await pilot.press("enter")
        assert isinstance(app.screen, ChoicePopup)
        options = app.screen.query_one(OptionList)
        assert options.region.y == field.region.bottom  # its top border right under it
        assert [str(options.get_option_at_index(i).prompt) for i in range(3)] == [
            "Alla färger",
            "Röd [bil]",  # as typed, not read as markup
            "Blå",
        ]
        await pilot.press("down", "enter")
        assert not isinstance(app.screen, ChoicePopup)
        assert field.value == "red" and _shown(app).startswith("Röd [bil]")
        await pilot.pause()
        assert app.changes == ["red"]


async def test_escape_and_a_click_beside_the_list_change_nothing() -> None:
    app = OneField()
    async with app.run_test(size=(60, 12)) as pilot:
        field = app.query_one(ChoiceField)
        await pilot.press("enter", "down", "escape")
        assert not isinstance(app.screen, ChoicePopup) and field.value is None
        await pilot.click(ChoiceField)
        assert isinstance(app.screen, ChoicePopup)
        await pilot.click(offset=(50, 10))
        assert not isinstance(app.screen, ChoicePopup) and field.value is None
        await pilot.pause()
        assert app.changes == []


async def test_left_and_right_step_through_the_choices_in_place() -> None:
    app = OneField()
    async with app.run_test(size=(60, 12)) as pilot:
        field = app.query_one(ChoiceField)
        await pilot.press("right", "right")
        assert field.value == "blue"
        await pilot.press("right")
        assert field.value is None  # round to "all" again
        await pilot.press("left")
        assert field.value == "blue"
        await pilot.pause()
        assert app.changes == ["red", "blue", None, "blue"]


async def test_the_field_is_as_wide_as_its_widest_choice() -> None:
    app = OneField()
    async with app.run_test(size=(60, 12)) as pilot:
        field = app.query_one(ChoiceField)
        width = field.size.width
        assert width == len("Alla färger") + len(" ▾")
        await pilot.press("right")
        assert field.size.width == width  # the bar does not shift


async def test_the_paid_filter_shows_only_paid_orders(db, admin, make_app):
    paid = order_with_lines(db, admin, customer(db, admin, "Betald Kund"))
    order_with_lines(db, admin, customer(db, admin, "Obetald Kund"))
    with db.session() as s:
        order = service.lock_order(s, paid.number)
        service.record_payment(s, admin, order, PaymentMethod.KORT, now())
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, OrderListScreen))
        table = app.screen.query_one("#orders", DataTable)
        await wait_until(pilot, lambda: table.row_count == 2, "both orders")
        field = app.screen.query_one("#paid", ChoiceField)
        field.focus()
        await pilot.press("enter")
        assert isinstance(app.screen, ChoicePopup)
        assert app.screen.styles.background.a == 0  # the list stays in view under it
        await pilot.press("down", "enter")  # "Betalning mottagen"
        await wait_until(pilot, lambda: table.row_count == 1, "the paid order alone")
        assert str(table.get_row_at(0)[0]) == str(paid.number)


async def _fits(pilot: Pilot, last: Input) -> None:
    await wait_until(pilot, lambda: last.region.width > 0, "the laid-out bar")
    assert last.region.width >= cell_len(last.placeholder), "its name shown whole"
    assert last.region.right <= 80, "in view"


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_filter_bars_fit_80_columns(make_app, lang):
    """The last field of each list's filter bar is in view, in every language."""
    set_language(lang)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _fits(pilot, app.screen.query_one("#received-to", Input))
        await app.action_payments()
        await _fits(pilot, app.screen.query_one("#payment-customer", Input))


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_search_field_says_what_it_searches_where_that_fits(make_app, lang):
    set_language(lang)
    for width, says_what in ((80, False), (120, True)):
        app = make_app()
        async with app.run_test(size=(width, 24)) as pilot:
            search = app.screen.query_one("#search", Input)
            await wait_until(pilot, lambda s=search: s.content_size.width > 0, "the laid-out bar")
            assert cell_len(search.placeholder) < search.content_size.width, "shown whole"
            assert (search.placeholder == _("Search (no., name, reg.)")) is says_what
