"""The key bar: the shown keys on one line, unavailable ones dimmed, a click presses a key."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.strip import Strip
from textual.widgets import Button

from verkstad.screens.footer import KeyBar


class Probe(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "toggle", "Växla"),
        Binding("f3", "other", "Annat"),
        Binding("insert,a", "add", "Lägg till rad"),  # one action, two keys: shown once
        Binding("f9", "hidden", "Dold", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.other_enabled = True
        self.ran: list[str] = []

    def compose(self) -> ComposeResult:
        yield Button("ett", id="one")
        yield KeyBar()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "other" and not self.other_enabled else True  # None: dimmed

    def action_toggle(self) -> None:
        self.ran.append("toggle")

    def action_other(self) -> None:
        self.ran.append("other")


def line(app: Probe) -> Strip:
    bar = app.query_one(KeyBar)
    return bar.render_line(0)


def dimmed(strip: Strip, text: str) -> bool:
    """Whether every cell of ``text`` on the line is drawn dim."""
    at = strip.text.index(text)
    cells = 0
    dims = []
    for segment in strip:
        if at <= cells < at + len(text) and segment.text.strip():
            dims.append(bool(segment.style and segment.style.dim))
        cells += len(segment.text)
    return bool(dims) and all(dims)


async def test_the_shown_keys_in_order_and_the_palette_key_on_the_right():
    app = Probe()
    async with app.run_test(size=(100, 10)) as pilot:
        await pilot.pause()
        text = line(app).text
        assert len(text) == 100
        assert text.index("f2 Växla") < text.index("f3 Annat") < text.index("insert Lägg till")
        assert " a " not in text and "Dold" not in text  # each action once; hidden not shown
        assert text.rstrip().endswith("▏^p palette")
        assert not dimmed(line(app), "Annat")

        app.other_enabled = False  # the key stays, dimmed
        app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert "f3 Annat" in line(app).text and dimmed(line(app), "Annat")
        assert not dimmed(line(app), "Växla")


async def test_a_click_presses_an_available_key_and_not_an_unavailable_one():
    app = Probe()
    async with app.run_test(size=(100, 10)) as pilot:
        await pilot.pause()
        text = line(app).text
        await pilot.click(KeyBar, offset=(text.index("Växla"), 0))
        await pilot.pause()
        assert app.ran == ["toggle"]

        app.other_enabled = False
        app.refresh_bindings()
        await pilot.pause()
        await pilot.click(KeyBar, offset=(line(app).text.index("Annat"), 0))
        await pilot.pause()
        assert app.ran == ["toggle"]  # a bell, not the action


async def test_a_key_that_does_not_fit_is_left_out_whole():
    app = Probe()
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        text = line(app).text
        assert len(text) == 40
        assert "f2 Växla" in text and "f3 Annat" in text
        assert "Lägg" not in text and "insert" not in text  # not cut to "insert Lä"
        assert text.rstrip().endswith("^p palette")


async def test_the_key_under_the_mouse_is_highlighted():
    app = Probe()
    async with app.run_test(size=(100, 10)) as pilot:
        await pilot.pause()

        def backgrounds() -> dict[str, object]:
            return {s.text: s.style and s.style.bgcolor for s in line(app) if s.text.strip()}

        before = backgrounds()
        await pilot.hover(KeyBar, offset=(line(app).text.index("Annat"), 0))
        await pilot.pause()
        after = backgrounds()
        assert {text for text in before if after[text] != before[text]} == {" f3 ", "Annat "}


async def test_when_keys_must_go_the_unavailable_ones_go_first():
    app = Probe()
    async with app.run_test(size=(44, 10)) as pilot:
        await pilot.pause()
        assert "f3 Annat" in line(app).text and "insert" not in line(app).text
        app.other_enabled = False
        app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        text = line(app).text
        assert "Annat" not in text
        assert "f2 Växla" in text and "insert Lägg till rad" in text


async def test_a_key_too_long_for_what_is_left_lets_a_shorter_one_after_it_in():
    app = Probe()
    app.bind("f4", "bell", description="Kort")  # after the long "insert Lägg till rad"
    async with app.run_test(size=(42, 10)) as pilot:
        await pilot.pause()
        text = line(app).text
        assert "insert" not in text
        assert text.index("f3 Annat") < text.index("f4 Kort")
