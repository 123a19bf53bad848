"""The one action registry: bindings, the Funktion menu, the command palette and F1 help
all come from here. Every binding has an id, so users can move keys in the config file
(``[keys]`` table: ``send_payment = "f2"``) — Ctrl+S is a common tmux prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

from verkstad.i18n import N_, _


@dataclass(frozen=True)
class UiAction:
    id: str  # binding id and action name
    label: str  # N_-marked; translated when shown
    key: str
    scope: str  # app | list | order | payments | customers
    show: bool = True  # in the footer
    menu: bool = False  # in the order's Funktion menu


ACTIONS: tuple[UiAction, ...] = (
    UiAction("order_list", N_("Workshop list"), "f5", "app"),
    UiAction("customers", N_("Customers"), "f2", "app"),
    UiAction("payments", N_("Payments"), "f3", "app"),
    UiAction("help", N_("Help"), "f1", "app"),
    UiAction("command_palette", N_("Commands"), "ctrl+p", "app", show=False),
    UiAction("quit", N_("Quit"), "ctrl+q", "app"),
    UiAction("new_order", N_("New order"), "ctrl+n", "list"),
    UiAction("choose_columns", N_("Show column…"), "f4", "list"),
    UiAction("sort_column", N_("Sort…"), "f6", "list"),
    UiAction("next_page", N_("Next page"), "pagedown", "list", show=False),
    UiAction("previous_page", N_("Previous page"), "pageup", "list", show=False),
    UiAction("focus_filter", N_("Search"), "slash", "list"),
    UiAction("export_csv", N_("Export CSV"), "f7", "list"),
    UiAction("function_menu", N_("Function"), "f9", "order"),
    UiAction("add_line", N_("Add line"), "insert,a", "order"),
    UiAction("edit_line", N_("Edit line"), "e", "order", show=False),
    UiAction("delete_line", N_("Delete line"), "delete", "order", show=False),
    UiAction("complete", N_("Mark complete"), "ctrl+k", "order", menu=True),
    UiAction("reopen", N_("Open order"), "ctrl+o", "order", menu=True),
    UiAction("send_payment", N_("Send mobile payment (SMS)"), "ctrl+s", "order", menu=True),
    UiAction("check_payment", N_("Check mobile payment"), "ctrl+l", "order", menu=True),
    UiAction("cancel_payment", N_("Cancel payment SMS / Open order"), "ctrl+u", "order", menu=True),
    UiAction("capture", N_("Capture reserved payment"), "ctrl+t", "order", menu=True),
    UiAction("refund", N_("Refund"), "ctrl+r", "order", menu=True),
    UiAction("manual_mobile", N_("Register manual mobile payment"), "ctrl+y", "order", menu=True),
    UiAction("post", N_("Post"), "ctrl+b", "order", menu=True),
    UiAction("print_invoice", N_("Print invoice"), "f6", "order", menu=True),
    UiAction("email_invoice", N_("Send invoice by e-mail"), "f7", "order", menu=True),
    UiAction("credit", N_("Credit"), "f8", "order", menu=True),
    UiAction("close", N_("Back"), "escape", "order"),
    UiAction("tab_lines", N_("Lines"), "1", "order", show=False),
    UiAction("tab_billing", N_("Billing"), "2", "order", show=False),
    UiAction("tab_payments", N_("Payments"), "3", "order", show=False),
    UiAction("tab_log", N_("Log"), "4", "order", show=False),
    UiAction("new_customer", N_("New customer"), "ctrl+n", "customers"),
    UiAction("edit_customer", N_("Edit customer"), "f4", "customers"),
    UiAction("add_vehicle", N_("Add vehicle"), "f6", "customers"),
    UiAction("customer_order", N_("New order"), "ctrl+o", "customers"),
    UiAction("request_payment", N_("Request payment"), "ctrl+s", "customers"),
    UiAction("focus_customer_search", N_("Search"), "slash", "customers", show=False),
    UiAction("leave_customers", N_("Back"), "escape", "customers", show=False),
    UiAction("toggle_mine", N_("My / all payments"), "f4", "payments"),
    UiAction("show_order", N_("Show order"), "enter", "payments"),
    UiAction("payment_history", N_("History"), "f6", "payments"),
    UiAction("mark_read", N_("Mark as read"), "ctrl+r", "payments"),
    UiAction("consolidate", N_("Consolidate"), "ctrl+b", "payments"),
    UiAction("cancel_request", N_("Cancel payment request"), "ctrl+u", "payments"),
    UiAction("export_csv", N_("Export CSV"), "f7", "payments"),
    UiAction("leave_payments", N_("Back"), "escape", "payments", show=False),
)

BY_ID = {a.id: a for a in ACTIONS}


def bindings(scope: str) -> list[BindingType]:
    return [
        Binding(a.key, a.id, _(a.label), show=a.show, id=a.id, priority=a.scope == "app")
        for a in ACTIONS
        if a.scope == scope
    ]


def menu_actions() -> list[UiAction]:
    return [a for a in ACTIONS if a.menu]


KEY_NAMES = {
    "slash": "/",
    "escape": "Esc",
    "insert": "Ins",
    "delete": "Del",
    "pagedown": "PgDn",
    "pageup": "PgUp",
    "enter": "Enter",
}


def key_label(key: str) -> str:
    """The first key of a binding as users read it ("Ctrl+S", "F9", "/")."""
    first = key.split(",")[0]
    return "+".join(
        KEY_NAMES.get(part, part.capitalize() if len(part) > 1 else part.upper())
        for part in first.split("+")
    )
