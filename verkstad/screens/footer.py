"""The key bar at the foot of every screen: Textual's Footer, composed only when its keys change.

Textual's Footer composes all of its keys anew on every "bindings updated" signal, and
one change of focus sends two of them (a screen's resume one more): the order list's
first paint composed the same fifteen keys three times, each a stylesheet pass per
key, and every focus change in a form composed them twice. Here a signal that leaves
the shown keys as they are changes nothing.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer


class KeyFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._composed: tuple[Any, ...] | None = None  # the keys last composed

    def _shown_keys(self) -> tuple[Any, ...]:
        """What compose draws: each shown key, how it is written, its label and state."""
        return (
            self._bindings_ready,  # (before, compose draws nothing)
            self.show_command_palette,
            self.app.ENABLE_COMMAND_PALETTE,
            *(
                (
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    binding.group,
                    enabled,
                    tooltip,
                )
                for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
                if binding.show
            ),
        )

    async def recompose(self) -> None:
        if not self.is_attached:  # (its screen has gone meanwhile: nothing to draw)
            return
        keys = self._shown_keys()
        if keys != self._composed:
            self._composed = keys
            await super().recompose()
