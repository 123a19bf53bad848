"""F1: every action with its key, from the action registry (and the user's keymap)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from verkstad.i18n import N_, _
from verkstad.screens.actions import ACTIONS, key_label
from verkstad.screens.plain import escape

SCOPES = {
    "app": N_("Everywhere"),
    "list": N_("Workshop list"),
    "order": N_("Order"),
    "customers": N_("Customers"),
    "payments": N_("Payments"),
}


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1", "dismiss", _("Close"))]

    def compose(self) -> ComposeResult:
        keymap = getattr(self.app, "_keymap", {})
        hint = escape(_("(change them in the config file's [keys] table)"))
        title = _("Keys")  # (outside the f-string, where gettext's extractor can see it)
        lines = [f"[b]{title}[/b]  {hint}", ""]
        width = max(len(_(a.label)) for a in ACTIONS)  # the labels' column, as wide as needed
        for scope, scope_title in SCOPES.items():
            lines.append(f"[b]{_(scope_title)}[/b]")
            for a in ACTIONS:
                if a.scope == scope:
                    key = key_label(keymap.get(a.id, a.key))  # the config file's
                    label = _(a.label)  # text, not markup, like the key
                    lines.append(f"  {escape(f'{key:<7} {label:<{width}}')} [dim]{a.id}[/dim]")
            lines.append("")
        with VerticalScroll(classes="dialog-box", id="help-box"):
            yield Static("\n".join(lines))
