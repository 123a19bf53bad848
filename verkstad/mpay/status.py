"""Payment request states (DESIGN.md) and what staff are told about each."""

from __future__ import annotations

from enum import StrEnum

from verkstad.i18n import N_


class PaymentState(StrEnum):
    CREATING = "CREATING"  # row committed, provider not yet (known to be) called
    SENT = "SENT"
    OPENED = "OPENED"  # the customer opened the link / push
    IN_PROGRESS = "IN_PROGRESS"  # the customer is entering details
    RESERVED = "RESERVED"  # authorised, waiting for capture (Vipps, Resurs)
    PAID = "PAID"
    DECLINED = "DECLINED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"


# A request in one of these can still become paid: only one per order at a time.
LIVE = frozenset(
    {
        PaymentState.CREATING,
        PaymentState.SENT,
        PaymentState.OPENED,
        PaymentState.IN_PROGRESS,
        PaymentState.RESERVED,
    }
)
FINAL = frozenset(PaymentState) - LIVE - {PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED}

STATE_LABELS = {
    PaymentState.CREATING: N_("being sent"),
    PaymentState.SENT: N_("sent"),
    PaymentState.OPENED: N_("opened by the customer"),
    PaymentState.IN_PROGRESS: N_("customer is entering details"),
    PaymentState.RESERVED: N_("reserved, waiting for capture"),
    PaymentState.PAID: N_("paid"),
    PaymentState.DECLINED: N_("declined"),
    PaymentState.EXPIRED: N_("expired"),
    PaymentState.CANCELLED: N_("cancelled"),
    PaymentState.FAILED: N_("failed"),
    PaymentState.REFUNDED: N_("refunded"),
    PaymentState.PARTIALLY_REFUNDED: N_("partially refunded"),
}

# What happened to a payment request, as its history (payment_events.kind) shows it.
EVENT_LABELS = {
    "created": N_("created"),
    "sent": N_("sent to the provider"),
    "status": N_("new status from the provider"),
    "late": N_("found at the provider after it had ended"),
    "refused": N_("refused by the provider"),
    "unknown_outcome": N_("no answer from the provider"),
    "cancel_requested": N_("cancellation asked for"),
    "cancelled": N_("cancelled"),
    "cancel_refused": N_("cancellation refused by the provider"),
    "capture_requested": N_("capture asked for"),
    "captured": N_("captured"),
    "capture_refused": N_("capture refused by the provider"),
    "refund_requested": N_("refund asked for"),
    "refunded": N_("refunded"),
    "expired": N_("expired"),
}
