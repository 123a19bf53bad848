"""Order status codes and the one table of allowed transitions."""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from verkstad.errors import DomainError, ValidationError
from verkstad.i18n import N_, _


class OrderStatus(StrEnum):
    OPEN = "ÖPPEN"
    DONE = "KLART"
    MPAY = "MOBILBET"
    POSTED = "BOKFÖRD"
    CREDITED = "KREDITERAD"


class PaymentMethod(StrEnum):
    KONTANT = "KONTANT"
    KORT = "KORT"
    FAKTURA = "FAKTURA"
    MOBIL = "MOBIL"  # paid through a mobile payment request
    MANUELL_MOBIL = "MANUELL_MOBIL"  # Swish/Vipps to the company number, confirmed by staff


PAYMENT_METHOD_LABELS = {
    PaymentMethod.KONTANT: N_("Cash"),
    PaymentMethod.KORT: N_("Card"),
    PaymentMethod.FAKTURA: N_("Invoice"),
    PaymentMethod.MOBIL: N_("Mobile payment"),
    PaymentMethod.MANUELL_MOBIL: N_("Manual mobile payment"),
}


class Action(StrEnum):
    COMPLETE = "complete"
    REOPEN = "reopen"
    SEND_PAYMENT = "send_payment"
    CANCEL_PAYMENT = "cancel_payment"
    POST = "post"
    CREDIT = "credit"


ACTION_LABELS = {
    Action.COMPLETE: N_("Mark complete"),
    Action.REOPEN: N_("Open order"),
    Action.SEND_PAYMENT: N_("Send mobile payment (SMS)"),
    Action.CANCEL_PAYMENT: N_("Cancel payment SMS / Open order"),
    Action.POST: N_("Post"),
    Action.CREDIT: N_("Credit"),
}

# The order's audit log (the Logg tab, `verkstad orders history`) in words; the log itself
# keeps the action's identifier.
LOG_LABELS = {
    **{action.value: label for action, label in ACTION_LABELS.items()},
    "create": N_("Order created"),
    "update": N_("Order changed"),
    "add_line": N_("Line added"),
    "update_line": N_("Line changed"),
    "delete_line": N_("Line deleted"),
    "extra_cost": N_("Extra cost added"),
    "payment_received": N_("Payment received"),
    "payment_cleared": N_("Payment cleared"),
    "email_invoice": N_("Invoice e-mailed"),
    "reminder": N_("Reminder sent"),
    "credit_partial": N_("Lines credited"),
    "copied": N_("Copied to a new order"),
}


# An order line's kinds, as the lines table and the log name them.
LINE_KINDS = {"part": N_("Part"), "labour": N_("Labour"), "fee": N_("Fee"), "text": N_("Text")}


def log_label(action: str) -> str:
    return _(LOG_LABELS[action]) if action in LOG_LABELS else action


S = OrderStatus
TRANSITIONS: dict[tuple[OrderStatus, Action], OrderStatus] = {
    (S.OPEN, Action.COMPLETE): S.DONE,
    (S.DONE, Action.REOPEN): S.OPEN,
    (S.DONE, Action.SEND_PAYMENT): S.MPAY,
    (S.MPAY, Action.CANCEL_PAYMENT): S.DONE,
    (S.DONE, Action.POST): S.POSTED,
    (S.MPAY, Action.POST): S.POSTED,
    (S.POSTED, Action.CREDIT): S.CREDITED,
}

# Nothing on an order in these states can change (lines, customer, notes, method).
LOCKED = frozenset({S.MPAY, S.POSTED, S.CREDITED})

LOCK_REASONS = {
    S.MPAY: N_(
        "A mobile payment request has been sent. Cancel it "
        "(Cancel payment SMS / Open order) to edit the order."
    ),
    S.POSTED: N_("The order is posted. Credit it to change it."),
    S.CREDITED: N_("The order is credited; its copy is the one to edit."),
}
# MOBILBET once the money is in: what staff do next is post it, not cancel it.
PAID_LOCK_REASON = N_(
    "Payment received: post the order next. To edit it, cancel the payment "
    "(Cancel payment SMS / Open order): the customer is refunded."
)


def allowed_actions(status: OrderStatus) -> list[Action]:
    return [a for (s, a) in TRANSITIONS if s == status]


def next_status(status: OrderStatus, action: Action) -> OrderStatus:
    """The status after ``action``, or a DomainError saying what is allowed instead."""
    target = TRANSITIONS.get((status, action))
    if target is None:
        allowed = ", ".join(_(ACTION_LABELS[a]) for a in allowed_actions(status)) or _("nothing")
        raise DomainError(
            _(
                "“{action}” is not possible for an order in status {status}. Allowed: {allowed}."
            ).format(action=_(ACTION_LABELS[action]), status=status.value, allowed=allowed)
        )
    return target


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.strip().upper()) if c.isalnum())


def parse_status(text: str) -> OrderStatus:
    """Accept the code as shown or typed without diacritics ("bokford")."""
    folded = _fold(text)
    for status in OrderStatus:
        if _fold(status.value) == folded or status.name == folded:
            return status
    raise ValidationError(
        _("Status"), _("must be one of: {choices}").format(choices=", ".join(OrderStatus))
    )
