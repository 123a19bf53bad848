"""An order log entry's before and after as staff read them ("Quantity: 1", "Quantity: 2").

The audit keeps the raw values (line fields in öre and thousandths, internal keys) and the
CSV and JSON of ``orders history`` give them as they are; the TUI's Logg tab and the
history's table show these words instead. A changed line or order shows only what changed.
"""

from __future__ import annotations

from typing import Any

from verkstad.formatting import format_percent_bp, format_quantity
from verkstad.i18n import N_, _
from verkstad.money import format_amount
from verkstad.orders.status import LINE_KINDS

# In the order they are shown (the Logg tab shortens a long entry: what matters first).
FIELDS = {
    "description": N_("Description"),
    "quantity_milli": N_("Quantity"),
    "unit": N_("Unit"),
    "unit_price_minor": N_("Unit price excl. VAT"),
    "discount_bp": N_("Discount %"),
    "vat_rate": N_("VAT %"),
    "kind": N_("Kind"),
    "article_number": N_("Art. no."),
    "notes": N_("Notes"),
    "payment_method": N_("Payment method"),
    "vehicle": N_("Vehicle"),
    "vehicle_id": N_("Vehicle (internal id)"),  # (recorded so before 2026-12-06)
    "customer": N_("Customer number"),
    "copied_from": N_("Copied from order"),
    "copied_to": N_("Copied to order"),
    "to": N_("E-mail"),
    "invoice": N_("Invoice no."),
    "level": N_("Reminder"),
}
RANK = {key: i for i, key in enumerate(FIELDS)}


def _value(key: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if key == "quantity_milli":
        return format_quantity(value)
    if key == "unit_price_minor":
        return format_amount(value)
    if key == "discount_bp":
        return format_percent_bp(value) or "0"
    if key == "kind":
        return _(LINE_KINDS[value]) if value in LINE_KINDS else str(value)
    return str(value)


def _fields(values: dict[str, Any], keys: list[str]) -> str:
    keys = sorted(keys, key=lambda k: RANK.get(k, len(RANK)))
    return ", ".join(
        f"{_(FIELDS[k]) if k in FIELDS else k}: {_value(k, values.get(k))}" for k in keys
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def log_change(before: Any, after: Any) -> tuple[str, str]:
    """The entry's before and after as text: of two records, only the fields that differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        changed = [k for k in {**before, **after} if before.get(k) != after.get(k)]
        return _fields(before, changed), _fields(after, changed)
    return _side(before), _side(after)


def _side(value: Any) -> str:
    """A record alone (a line added or deleted): the fields it has a value for."""
    if isinstance(value, dict):
        return _fields(value, [k for k, v in value.items() if v not in (None, "")])
    return _text(value)
