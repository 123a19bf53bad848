"""ChoiceField: the one-line drop-down of the lists' filter bars.

It shows the chosen label and builds its list only when opened. Textual's Select composes
an option list for every field with the screen: the order list's two cost about 30 ms of
the counter's cold start (BENCHMARKS.md), and their three lines did not fit one bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import OptionList

ARROW = " ▾"


class ChoiceField(Widget, can_focus=True):
    """One of a few values, or none (the prompt: no filter). Enter, Space, Down or a click
    opens the choices under the field; Left and Right step through them in place."""

    DEFAULT_CSS = """
    ChoiceField {
        width: auto;
        height: 1;
        padding-left: 1;  /* the arrow ends it */
        background: $boost;
        &:focus { background-tint: $foreground 10%; text-style: bold; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space,down", "open", show=False),
        Binding("left", "step(-1)", show=False),
        Binding("right", "step(1)", show=False),
    ]

    class Changed(Message):
        def __init__(self, field: ChoiceField) -> None:
            super().__init__()
            self.field = field

        @property
        def control(self) -> ChoiceField:
            return self.field

    def __init__(
        self, choices: Sequence[tuple[str, str]], prompt: str, *, id: str | None = None
    ) -> None:
        """``choices`` are (label, value); the prompt is shown when none is chosen."""
        super().__init__(id=id)
        self.options: list[tuple[str, str | None]] = [(prompt, None), *choices]
        self.index = 0

    @property
    def value(self) -> str | None:
        return self.options[self.index][1]

    def _choose(self, index: int) -> None:
        if index != self.index:
            self.index = index
            self.refresh()
            self.post_message(self.Changed(self))

    def get_content_width(self, container: Size, viewport: Size) -> int:
        # As wide as the widest choice, so the bar does not shift when the choice changes.
        return max(cell_len(label) for label, _value in self.options) + cell_len(ARROW)

    def render(self) -> Text:
        label = self.options[self.index][0]
        room = self.content_size.width - cell_len(label) - cell_len(ARROW)
        return Text(label + " " * max(room, 0) + ARROW)  # a Text: labels are never markup

    def action_step(self, by: int) -> None:
        self._choose((self.index + by) % len(self.options))

    def action_open(self) -> None:
        labels = [label for label, _value in self.options]
        self.app.push_screen(ChoicePopup(labels, self.index, self.region), self._picked)

    def _picked(self, index: int | None) -> None:
        if index is not None:
            self._choose(index)

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.action_open()


class ChoicePopup(ModalScreen[int | None]):
    """The choices right under their field. Enter or a click picks one; Escape or a click
    beside the list leaves the choice as it was."""

    DEFAULT_CSS = """
    ChoicePopup > OptionList { width: auto; height: auto; max-height: 14; border: tall $border; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", show=False)]

    def __init__(self, labels: Sequence[str], index: int, under: Region) -> None:
        super().__init__()
        self.labels, self.index, self.under = labels, index, under

    def compose(self) -> ComposeResult:
        yield OptionList(*self.labels, markup=False)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = self.index
        options.styles.offset = (max(self.under.x - 1, 0), self.under.bottom)  # its border
        options.styles.min_width = self.under.width + 2

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)

    def on_click(self, event: events.Click) -> None:
        if event.widget is self:
            self.dismiss(None)
