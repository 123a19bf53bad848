"""The key bar at the foot of every screen: one line, drawn by one widget.

Textual's Footer makes a widget of every key it shows (fifteen on the order list), each
styled and laid out on its own, and makes them anew whenever the keys change: about
30 ms of the cold start (BENCHMARKS.md). This draws the same line as one piece of text:
the screen's keys, then the app's, each action once by its first key, unavailable ones
dimmed, and the command palette's key on the right. When not all keys fit, the
unavailable ones are left out first, then each key that does not fit in what is left,
whole, while a later, shorter one still may. A click on a key presses it.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.widget import Widget


class ShownKey(NamedTuple):
    key: str  # as bound ("ctrl+n"), what a click presses
    display: str  # as shown ("^n")
    description: str
    enabled: bool


class KeyBar(Widget, can_focus=False):
    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "key-bar--key",
        "key-bar--description",
        "key-bar--separator",
        "key-bar--hover",
    }
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        & > .key-bar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .key-bar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .key-bar--separator {
            color: $foreground 20%;
        }
        & > .key-bar--hover {
            background: $block-hover-background;
        }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._spans: list[tuple[int, int, ShownKey]] = []  # where each key was drawn
        self._hover: str | None = None  # the key under the mouse

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.refresh())

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def shown_keys(self) -> tuple[list[ShownKey], ShownKey | None]:
        """The keys in the order shown, and the command palette's key (None: not shown)."""
        keys: dict[str, ShownKey] = {}  # by action: an action bound to two keys shows one
        palette = None
        for key, (_node, binding, enabled, _tooltip) in self.screen.active_bindings.items():
            shown = ShownKey(key, self.app.get_key_display(binding), binding.description, enabled)
            if binding.show:
                keys.setdefault(binding.action, shown)
            elif key == self.app.COMMAND_PALETTE_BINDING and self.app.ENABLE_COMMAND_PALETTE:
                palette = shown
        return list(keys.values()), palette

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        hover = Style(bgcolor=self.get_component_rich_style("key-bar--hover").bgcolor)

        def piece(shown: ShownKey) -> Text:
            dim = Style(dim=not shown.enabled)
            over = hover if shown.key == self._hover else Style()
            return Text.assemble(
                (f" {shown.display} ", key_style + dim + over),
                (f"{shown.description} ", description_style + dim + over),
            )

        keys, palette = self.shown_keys()
        right = Text()
        if palette is not None:
            right = Text.assemble(("▏", self.get_component_rich_style("key-bar--separator")))
            right.append_text(piece(palette)[1:])  # the separator stands for its space
        room = self.size.width - cell_len(right.plain)
        pieces = [(shown, piece(shown)) for shown in keys]
        if sum(text.cell_len for _shown, text in pieces) > room:  # unavailable ones go first
            pieces = [(shown, text) for shown, text in pieces if shown.enabled]
        line, spans = Text(), []
        for shown, text in pieces:
            if line.cell_len + text.cell_len > room:
                continue  # a shorter one after it may fit (Ctrl+B after the long Ctrl+U)
            spans.append((line.cell_len, line.cell_len + text.cell_len, shown))
            line.append_text(text)
        line.append(" " * (room - line.cell_len))
        if palette is not None:
            spans.append((room, room + cell_len(right.plain), palette))
            line.append_text(right)
        self._spans = spans
        return line

    def key_at(self, x: int) -> ShownKey | None:
        return next((shown for start, end, shown in self._spans if start <= x < end), None)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        shown = self.key_at(event.x)
        if shown is None:
            return
        if shown.enabled:
            self.app.simulate_key(shown.key)
        else:
            self.app.bell()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        shown = self.key_at(event.x)
        self._set_hover(shown.key if shown else None)

    def on_leave(self) -> None:
        self._set_hover(None)

    def _set_hover(self, key: str | None) -> None:
        if key != self._hover:
            self._hover = key
            self.refresh()
