"""Skicka mobilbetalning (SMS): the send form.

The channel choice appears only when more than one channel fits; the generate
button stays disabled, with the reason beside it, until the form is valid;
leaving the form keeps it as a draft for next time.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from verkstad.errors import ValidationError
from verkstad.i18n import _
from verkstad.money import Money
from verkstad.mpay.channels import ChannelView, TransactionType, fitting_channels
from verkstad.mpay.payments import discard_draft, load_draft, save_draft
from verkstad.mpay.service import MAX_EXPLANATION, SendForm, default_reference, send
from verkstad.mpay.views import PaymentView
from verkstad.orders import fields as F
from verkstad.orders.views import OrderView
from verkstad.screens.base import call_service
from verkstad.screens.plain import plain

FIELDS = ("channel", "reference", "explanation", "sms", "email", "phone", "email_address")


class SendDialog(ModalScreen[PaymentView | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", _("Close (keeps a draft)")),
        Binding("ctrl+enter,f10", "generate", _("Send")),
    ]

    def __init__(self, order: OrderView) -> None:
        super().__init__(classes="dialog")
        self.order = order
        self.channels: list[ChannelView] = []
        self.draft_key = f"order:{order.number}"

    def compose(self) -> ComposeResult:
        amount = Money(self.order.totals.payable, self.order.currency).format()
        with Vertical(classes="dialog-box", id="send-box"):
            yield Label(_("Send mobile payment (SMS)"), classes="dialog-title")
            with Grid(classes="form-grid"):
                yield Label(_("Channel"), id="channel-label")
                yield Select([], id="channel", prompt=_("Channel"))
                yield Label(_("Client"))
                yield Static(
                    f"{self.order.customer.name} ({self.order.customer.number})", markup=False
                )
                yield Label(_("Amount"))
                yield Static(f"[b]{amount}[/b]")
                yield Label(_("Reference"))
                yield Input(default_reference(), id="reference")
                yield Label(_("Explanation"))
                yield Input("", id="explanation", max_length=MAX_EXPLANATION)
                yield Label("")
                yield Static("", id="explanation-count")
                yield Checkbox(_("Send link via SMS"), id="sms")
                yield Input(F.display_phone(self.order.customer.phone), id="phone")
                yield Checkbox(_("Send link via e-mail"), id="email")
                yield Input(self.order.customer.email or "", id="email_address")
            yield Static("", id="send-reason", markup=False)  # it may quote what was typed
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Generate payment"), variant="primary", id="generate", disabled=True)
                yield Button(_("Close"), id="close")

    async def on_mount(self) -> None:
        app: Any = self.app
        _ok, channels = await call_service(
            app, fitting_channels, app.db, app.actor, TransactionType.RECEIVE
        )
        self.channels = channels or []
        if not self.channels:
            self.query_one("#send-reason", Static).update(
                _("No payment channels are defined for the selected transaction type.")
            )
            return
        select = self.query_one("#channel", Select)
        select.set_options([(plain(c.name), c.name) for c in self.channels])
        select.value = self.channels[0].name
        several = len(self.channels) > 1
        select.display = several
        self.query_one("#channel-label", Label).display = several
        _ok, draft = await call_service(app, load_draft, app.db, app.actor, self.draft_key)
        if draft:
            self._restore(draft)
        self._apply_channel()
        self.validate()

    def _restore(self, draft: dict[str, Any]) -> None:
        for key, value in draft.items():
            if key not in FIELDS:
                continue
            widget = self.query_one(f"#{key}")
            if isinstance(widget, Checkbox):
                widget.value = bool(value)
            elif isinstance(widget, Input):
                widget.value = str(value)
            elif isinstance(widget, Select) and value in [c.name for c in self.channels]:
                widget.value = value

    def _channel(self) -> ChannelView | None:
        name = self.query_one("#channel", Select).value
        return next((c for c in self.channels if c.name == name), None)

    def _apply_channel(self) -> None:
        channel = self._channel()
        if channel is None:
            return
        for box_id, enabled, input_id in (
            ("sms", channel.sms_enabled, "phone"),
            ("email", channel.email_enabled, "email_address"),
        ):
            box = self.query_one(f"#{box_id}", Checkbox)
            box.disabled = not enabled
            box.display = enabled
            self.query_one(f"#{input_id}", Input).display = enabled
            if not enabled:
                box.value = False
            elif box_id == "sms" and not self.query(f"#{box_id}.touched"):
                box.value = True

    def _values(self) -> dict[str, Any]:
        return {
            "channel": self.query_one("#channel", Select).value,
            "reference": self.query_one("#reference", Input).value,
            "explanation": self.query_one("#explanation", Input).value,
            "sms": self.query_one("#sms", Checkbox).value,
            "email": self.query_one("#email", Checkbox).value,
            "phone": self.query_one("#phone", Input).value,
            "email_address": self.query_one("#email_address", Input).value,
        }

    def _problem(self) -> str | None:
        """Why the form cannot be sent yet (the same rules the service applies)."""
        v = self._values()
        channel = self._channel()
        if channel is None:
            return _("No payment channels are defined for the selected transaction type.")
        if not v["reference"].strip():
            return _("Reference: is required")
        if not (v["sms"] or v["email"]) and channel.provider in ("resurs", "stripe"):
            return _("Delivery: choose SMS, e-mail or both")
        try:
            if v["sms"] or channel.provider in ("vipps", "swish"):
                F.normalise_phone(v["phone"])
            if v["email"]:
                F.normalise_email(v["email_address"])
        except ValidationError as e:
            return str(e)
        return None

    def validate(self) -> None:
        count = len(self.query_one("#explanation", Input).value)
        self.query_one("#explanation-count", Static).update(f"{count}/{MAX_EXPLANATION}")
        problem = self._problem()
        self.query_one("#generate", Button).disabled = problem is not None
        self.query_one("#send-reason", Static).update(problem or "")

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _changed(self, event: Input.Changed | Checkbox.Changed) -> None:
        if isinstance(event, Checkbox.Changed):
            event.checkbox.add_class("touched")
        self.validate()

    @on(Select.Changed, "#channel")
    def _channel_changed(self) -> None:
        self._apply_channel()
        self.validate()

    @on(Input.Submitted)
    async def _enter_sends(self) -> None:
        """Enter in a field is "Skapa betalning", as Enter saves every other form; while the
        form is incomplete the button is disabled and the reason stays on screen."""
        await self.action_generate()

    async def action_generate(self) -> None:
        if self.query_one("#generate", Button).disabled:
            return
        app: Any = self.app
        v = self._values()
        form = SendForm(
            channel=v["channel"],
            sms=v["sms"],
            email=v["email"],
            reference=v["reference"],
            explanation=v["explanation"],
            phone=v["phone"],
            email_address=v["email_address"],
        )
        ok, view = await call_service(
            app, send, app.db, app.providers, app.actor, self.order.number, form, self.order.version
        )
        if ok:
            await call_service(app, discard_draft, app.db, app.actor, self.draft_key)
            self.dismiss(view)

    async def action_leave(self) -> None:
        app: Any = self.app
        if self.channels:
            await call_service(app, save_draft, app.db, app.actor, self.draft_key, self._values())
        self.dismiss(None)

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "generate":
            await self.action_generate()
        else:
            await self.action_leave()
