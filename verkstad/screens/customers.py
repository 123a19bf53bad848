"""Kunder (F2): find the customer at the desk however they say who they are (name, customer
number, phone number as spoken, registration number), keep their card and vehicles, and start
an order or a free payment request (a deposit) from it.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, Label

from verkstad.i18n import N_, _, ngettext
from verkstad.mpay.channels import TransactionType, fitting_channels
from verkstad.mpay.service import MAX_EXPLANATION, SendForm, default_reference, request_payment
from verkstad.orders.fields import display_phone
from verkstad.orders.service import (
    CustomerInput,
    VehicleInput,
    add_vehicle,
    create_customer,
    create_order,
    search_customers,
    update_customer,
)
from verkstad.orders.views import CustomerView
from verkstad.screens.actions import BY_ID, bindings, key_label
from verkstad.screens.base import ServiceScreen
from verkstad.screens.dialogs import ChoiceDialog, FormDialog
from verkstad.screens.footer import KeyBar
from verkstad.screens.plain import plain_row
from verkstad.screens.table import Table

DEBOUNCE_SECONDS = 0.3
LIMIT = 100  # a search, not a list: more than this means "type more"
LANGUAGE_LABELS = {
    "sv": N_("Swedish"),
    "nb": N_("Norwegian (bokmål)"),
    "en": N_("English"),
    "fr": N_("French"),
}
DELIVERY = {"sms": (True, False), "email": (False, True), "both": (True, True)}
NO_VEHICLE = "-"
NEEDS_CUSTOMER = ("edit_customer", "add_vehicle", "customer_order", "request_payment")


class CustomersScreen(ServiceScreen):
    BINDINGS: ClassVar[list[BindingType]] = bindings("customers")

    def __init__(self) -> None:
        super().__init__(id="customers")
        self.customers: list[CustomerView] = []
        self._debounce: Timer | None = None
        self._select: int | None = None  # the customer to put the cursor on after a reload
        self._generation = 0  # only the latest search may fill the table

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(
            placeholder=_("Search: name, customer no., phone or reg. no."), id="customer-search"
        )
        yield Label("", id="customer-status", markup=False)  # it quotes the search
        yield Table(id="customer-table", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    async def on_mount(self) -> None:
        self.title = _("Customers")
        table = self.query_one(DataTable)
        for label in (
            _("Cust. no."),
            _("Name"),
            _("Mobile phone"),
            _("E-mail"),
            _("City"),
            _("Vehicles"),
        ):
            table.add_column(label)
        self.query_one(Input).focus()

    # ------------------------------------------------------------ searching

    async def reload(self) -> None:
        text = self.query_one(Input).value
        self._generation += 1
        generation = self._generation
        found = await self.call(search_customers, self.vapp.db, text, LIMIT)
        if found is None or generation != self._generation:
            return
        table = self.query_one(DataTable)
        keep = self._select if self._select is not None else self._selected_number()
        self._select = None
        self.customers = found
        table.clear()
        for c in found:
            table.add_row(
                *plain_row(
                    str(c.number),
                    c.name,
                    display_phone(c.phone),
                    c.email or "",
                    c.city,
                    ", ".join(v.reg_number for v in c.vehicles),
                ),
                key=str(c.number),
            )
        numbers = [c.number for c in found]
        if keep in numbers:
            table.move_cursor(row=numbers.index(keep))
        self.query_one("#customer-status", Label).update(self._status(text, len(found)))
        self.refresh_bindings()

    def _status(self, text: str, count: int) -> str:
        if count == 0:
            key = self._key("new_customer")
            return (
                _("No customer matches “{text}”. {key} creates one.").format(
                    text=text.strip(), key=key
                )
                if text.strip()
                else _("No customers yet. {key} creates one.").format(key=key)
            )
        if count >= LIMIT:
            return _("The first {n} customers are shown; type more to narrow the search.").format(
                n=LIMIT
            )
        return ngettext("{n} customer", "{n} customers", count).format(n=count)

    def _key(self, action_id: str) -> str:
        """The key as the user has it (the config file may move it)."""
        keymap = getattr(self.app, "_keymap", {})
        return key_label(keymap.get(action_id, BY_ID[action_id].key))

    @on(Input.Changed, "#customer-search")
    def _search_changed(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, self.reload)

    @on(Input.Submitted, "#customer-search")
    def _to_results(self) -> None:
        if self.customers:
            self.query_one(DataTable).focus()

    def action_focus_customer_search(self) -> None:
        self.query_one(Input).focus()

    def action_leave_customers(self) -> None:
        self.app.pop_screen()

    def _selected_number(self) -> int | None:
        customer = self.selected()
        return customer.number if customer else None

    def selected(self) -> CustomerView | None:
        if not self.customers:
            return None
        table = self.query_one(DataTable)
        if table.cursor_row < 0:
            return None
        return self.customers[min(table.cursor_row, len(self.customers) - 1)]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in NEEDS_CUSTOMER and self.selected() is None:
            return None
        return True

    async def on_screen_resume(self) -> None:
        await self.reload()

    # ------------------------------------------------------------ the customer card

    @work(group="dialogs")
    async def action_new_customer(self) -> None:
        await self._customer_dialog(None)

    @work(group="dialogs")
    async def action_edit_customer(self) -> None:
        customer = self.selected()
        if customer is not None:
            await self._customer_dialog(customer)

    @on(DataTable.RowSelected, "#customer-table")
    def _row_chosen(self) -> None:
        self.action_edit_customer()

    async def _customer_dialog(self, customer: CustomerView | None) -> None:
        db, actor = self.vapp.db, self.vapp.actor
        language = "nb" if self.vapp.company_country == "NO" else "sv"
        c = customer
        fields = [
            ("name", _("Name"), c.name if c else ""),
            ("phone", _("Mobile phone"), display_phone(c.phone) if c else ""),
            ("email", _("E-mail"), (c.email or "") if c else ""),
            ("address", _("Address"), c.address if c else ""),
            ("postal_code", _("Postal code"), c.postal_code if c else ""),
            ("city", _("City"), c.city if c else ""),
            ("language", _("Language"), c.language if c else language),
        ]
        languages = [(code, _(label)) for code, label in LANGUAGE_LABELS.items()]
        saved: list[CustomerView] = []

        async def save(values: dict[str, str]) -> bool:
            data = CustomerInput(**values)
            if customer is None:
                result = await self.call(create_customer, db, actor, data)
            else:
                result = await self.call(update_customer, db, actor, customer.number, data)
            if result is not None:
                saved.append(result)
            return result is not None

        title = _("Customer {n}").format(n=customer.number) if customer else _("New customer")
        await self.app.push_screen_wait(FormDialog(title, fields, save, {"language": languages}))
        if not saved:
            return
        if customer is None:  # show the new card, ready for a vehicle or an order
            self.notify(
                _("Customer {n} {name} created.").format(n=saved[0].number, name=saved[0].name)
            )
            self._select = saved[0].number
            self.query_one(Input).value = str(saved[0].number)
            self.query_one(DataTable).focus()
        else:
            self.notify(_("Customer {n} saved.").format(n=customer.number))

    @work(group="dialogs")
    async def action_add_vehicle(self) -> None:
        customer = self.selected()
        if customer is None:
            return
        fields = [
            ("reg_number", _("Registration number"), ""),
            ("make", _("Make"), ""),
            ("model", _("Model"), ""),
            ("year", _("Year"), ""),
            ("mileage_km", _("Mileage (km)"), ""),
        ]
        added: list[str] = []

        async def save(values: dict[str, str]) -> bool:
            view = await self.call(
                add_vehicle, self.vapp.db, self.vapp.actor, customer.number, VehicleInput(**values)
            )
            if view is not None:
                added.append(view.reg_number)
            return view is not None

        title = _("Add vehicle to {name}").format(name=customer.name)
        await self.app.push_screen_wait(FormDialog(title, fields, save))
        if added:
            self.notify(
                _("Vehicle {reg} added to {name}.").format(reg=added[0], name=customer.name)
            )

    # ------------------------------------------------------------ starting work for the customer

    @work(group="dialogs")
    async def action_customer_order(self) -> None:
        from verkstad.screens.order_form import OrderScreen

        customer = self.selected()
        if customer is None:
            return
        vehicles = customer.vehicles
        reg: str | None = vehicles[0].reg_number if len(vehicles) == 1 else None
        if len(vehicles) > 1:
            choices = [
                (v.reg_number, f"{v.reg_number:<8} {v.make} {v.model}".rstrip(), True)
                for v in vehicles
            ]
            choices.append((NO_VEHICLE, _("Without vehicle"), True))
            chosen = await self.app.push_screen_wait(ChoiceDialog(_("Which vehicle?"), choices))
            if chosen is None:
                return
            reg = None if chosen == NO_VEHICLE else chosen
        order = await self.call(create_order, self.vapp.db, self.vapp.actor, customer.number, reg)
        if order is not None:
            await self.app.push_screen(OrderScreen(order.number))

    @work(group="dialogs")
    async def action_request_payment(self) -> None:
        """A free payment request (a deposit), not tied to an order."""
        customer = self.selected()
        if customer is None:
            return
        vapp = self.vapp
        channels = await self.call(fitting_channels, vapp.db, vapp.actor, TransactionType.RECEIVE)
        if channels is None:
            return
        if not channels:
            self.notify(
                _("No payment channels are defined for the selected transaction type."),
                severity="warning",
            )
            return
        fields: list[tuple[str, str, str]] = []
        selects: dict[str, list[tuple[str, str]]] = {}
        if len(channels) > 1:
            fields.append(("channel", _("Channel"), channels[0].name))
            selects["channel"] = [(c.name, c.name) for c in channels]
        fields += [
            ("amount", _("Amount"), ""),
            ("reference", _("Reference"), default_reference()),
            ("explanation", _("Explanation (≤ {n})").format(n=MAX_EXPLANATION), ""),
        ]
        delivery = _delivery_choices(
            any(c.sms_enabled for c in channels), any(c.email_enabled for c in channels)
        )
        if delivery:
            fields.append(("delivery", _("Send link via"), delivery[0][0]))
            selects["delivery"] = delivery
        sent: list[str] = []

        async def save(values: dict[str, str]) -> bool:
            sms, email = DELIVERY.get(values.get("delivery", ""), (None, None))
            form = SendForm(
                channel=values.get("channel"),
                sms=sms,
                email=email,
                reference=values["reference"],
                explanation=values["explanation"],
                amount=values["amount"],
            )
            view = await self.call(
                request_payment, vapp.db, vapp.providers, vapp.actor, customer.number, form
            )
            if view is not None:
                sent.append(view.reference)
            return view is not None

        title = _("Request payment from {name}").format(name=customer.name)
        await self.app.push_screen_wait(FormDialog(title, fields, save, selects))
        if sent:
            self.notify(
                _("Payment request {ref} sent to {name}. {key} shows its status.").format(
                    ref=sent[0], name=customer.name, key=self._key("payments")
                )
            )


def _delivery_choices(sms: bool, email: bool) -> list[tuple[str, str]]:
    """How the link may be sent, as the channels allow (none: the provider notifies itself)."""
    choices = []
    if sms:
        choices.append(("sms", _("SMS")))
    if email:
        choices.append(("email", _("E-mail")))
    if sms and email:
        choices.append(("both", _("SMS and e-mail")))
    return choices
