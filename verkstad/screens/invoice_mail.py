"""Skicka faktura via e-post: the e-mail as the customer will get it, before it is sent.

P writes the invoice PDF to the print folder and shows where, so staff can open it;
Enter sends, Escape cancels.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from verkstad.i18n import _
from verkstad.invoices.mail import InvoiceEmail, mail_header
from verkstad.screens.base import call_service


class InvoiceMailDialog(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(False)", _("Cancel")),
        Binding("p", "save_pdf", _("Save PDF")),
    ]

    def __init__(self, mail: InvoiceEmail, folder: Path) -> None:
        super().__init__(classes="dialog")
        self.mail, self.folder = mail, folder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(_("Send invoice by e-mail"), classes="dialog-title")
            yield Static(
                mail_header(self.mail.to, self.mail.subject, self.mail.file_name),
                id="mail-head",
                markup=False,
            )
            yield Static(self.mail.body, id="mail-body", classes="dialog-text", markup=False)
            yield Static(_("P: save the PDF to open it"), id="pdf-path", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Send"), variant="primary", id="send")
                yield Button(_("Cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#send", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "send")

    @work(group="dialogs")
    async def action_save_pdf(self) -> None:
        from verkstad.invoices.print import save_pdf

        ok, path = await call_service(
            self.app, save_pdf, self.mail.pdf, self.folder, self.mail.file_name
        )
        if ok:
            self.query_one("#pdf-path", Static).update(
                _("The PDF is saved as {path}.").format(path=path)
            )
