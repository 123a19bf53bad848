"""Small modal dialogs. Labels are parameters so every word is translated by the caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, SelectionList, Static
from textual.widgets.option_list import Option

from verkstad.i18n import _
from verkstad.screens.plain import plain

Save = Callable[[Any], Awaitable[bool]]


class ConfirmDialog(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(False)", _("Cancel"))]

    def __init__(self, question: str, yes: str | None = None, no: str | None = None) -> None:
        super().__init__(classes="dialog")
        self.question, self.yes, self.no = question, yes or _("Yes"), no or _("No")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(self.question, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, variant="primary", id="yes")
                yield Button(self.no, id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ChoiceDialog(ModalScreen[str | None]):
    """Pick one of several (ids with labels); disabled choices are shown greyed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", _("Cancel"))]

    def __init__(self, title: str, choices: Sequence[tuple[str, str, bool]]) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield OptionList(
                *(
                    Option(label, id=key, disabled=not enabled)
                    for key, label, enabled in self.choices
                ),
                id="choices",
                markup=False,  # a vehicle's make and model, a user's name
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class ColumnChooser(ModalScreen[list[str] | None]):
    """Visa kolumn…: tick the columns to show."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", _("Cancel")),
        Binding("ctrl+enter,f10", "save", _("OK")),
    ]

    def __init__(self, columns: Sequence[tuple[str, str]], shown: Sequence[str]) -> None:
        super().__init__(classes="dialog")
        self.columns, self.shown = columns, set(shown)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(_("Show column…"), classes="dialog-title")
            yield SelectionList[str](
                *((label, key, key in self.shown) for key, label in self.columns), id="columns"
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("OK"), variant="primary", id="ok")
                yield Button(_("Cancel"), id="cancel")

    def action_save(self) -> None:
        chosen = self.query_one(SelectionList).selected
        ordered = [key for key, _label in self.columns if key in chosen]
        self.dismiss(ordered or None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_save()
        else:
            self.dismiss(None)


class FormDialog(ModalScreen[Any]):
    """A form whose ``save`` callback runs the service: the dialog closes only when it succeeds,
    so a refused value stays on screen to be corrected."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", _("Cancel")),
        Binding("ctrl+enter,f10", "save", _("Save")),
    ]

    def __init__(
        self,
        title: str,
        fields: Sequence[tuple[str, str, str]],
        save: Save,
        selects: dict[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        """``fields`` are (id, label, initial value); ``selects`` turns a field into a choice."""
        super().__init__(classes="dialog")
        self.title_text, self.fields, self.save, self.selects = title, fields, save, selects or {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            with Grid(classes="form-grid"):
                for field_id, label, initial in self.fields:
                    yield Label(label, markup=False)
                    if field_id in self.selects:
                        yield Select(
                            [(plain(text), value) for value, text in self.selects[field_id]],
                            value=initial,
                            allow_blank=False,
                            id=field_id,
                        )
                    else:
                        yield Input(initial, id=field_id)
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Save"), variant="primary", id="save")
                yield Button(_("Cancel"), id="cancel")

    def values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for field_id, _label, _initial in self.fields:
            widget = self.query_one(f"#{field_id}")
            value = widget.value if isinstance(widget, Input | Select) else ""
            out[field_id] = "" if value is Select.NULL else str(value)
        return out

    def focus_field(self, label: str) -> None:
        """Put the cursor in the field a refusal named (``ValidationError.field`` is the
        label the user sees)."""
        for field_id, field_label, _initial in self.fields:
            if field_label == label:
                self.query_one(f"#{field_id}").focus()
                return

    async def action_save(self) -> None:
        values = self.values()
        if await self.save(values):
            self.dismiss(values)

    async def on_input_submitted(self) -> None:
        await self.action_save()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            await self.action_save()
        else:
            self.dismiss(None)
