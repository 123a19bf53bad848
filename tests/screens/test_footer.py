"""The key bar is composed again only when the keys it shows change."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Footer
from textual.widgets._footer import FooterKey

from verkstad.screens.footer import KeyFooter


class Probe(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "toggle", "Växla"),
        Binding("f3", "other", "Annat"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.other_enabled = True

    def compose(self) -> ComposeResult:
        yield Button("ett", id="one")
        yield Button("två", id="two")
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "other" and not self.other_enabled else True  # None: dimmed


async def test_the_keys_are_composed_once_and_again_only_when_they_change(monkeypatch):
    composed: list[int] = []
    real = Footer.recompose

    async def counted(self: Footer) -> None:
        composed.append(1)
        await real(self)

    monkeypatch.setattr(Footer, "recompose", counted)
    app = Probe()
    async with app.run_test() as pilot:
        await pilot.pause()
        footer = app.query_one(KeyFooter)
        keys = {k.key: k for k in footer.query(FooterKey)}
        assert {"f2", "f3"} <= set(keys) and len(composed) == 1
        for _ in range(3):  # each change of focus signals "bindings updated" twice
            app.query_one("#two", Button).focus()
            await pilot.pause()
            app.query_one("#one", Button).focus()
            await pilot.pause()
        assert len(composed) == 1  # the same keys: not composed again
        app.other_enabled = False
        app.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert len(composed) == 2
        assert next(k for k in footer.query(FooterKey) if k.key == "f3").has_class("-disabled")
