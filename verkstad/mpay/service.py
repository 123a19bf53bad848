"""M-Pay: send, check, cancel, capture and refund payment requests — exactly once.

Every provider call is preceded by a committed row (the request in CREATING,
or a PENDING operation) holding the idempotency key that every retry reuses.
When a call's outcome is unknown (timeout, 5xx, dropped reply, crash) the row
stays as it is and ``reconcile()`` (verkstad.mpay.recovery, with the timers)
finishes it by asking the provider — it never creates a second request. All
rules live in these modules; the CLI and the TUI only call these functions.

This module is the facade: callers import from here. The rules live in, from the
bottom up (each imports only those above it):

- ``rows``        the constants, the request and operation rows (read, lock, view,
                  record) and the look-ups by provider reference or order
- ``answers``     ``apply_status``: a provider's answer applied to a request and its
                  order, stale answers ignored, late payments given back
- ``operations``  cancel (refunding what was paid), capture, refund, and finishing
                  the operations a crash left pending
- ``requests``    the send form, send / request_payment, check / refresh, and the
                  manual mobile payment
- ``recovery``    reconcile, polling, expiry, the capture window, orphan locks
"""

from __future__ import annotations

from verkstad.mpay.answers import PROGRESS, apply_status
from verkstad.mpay.models import PaymentRequest
from verkstad.mpay.operations import (
    ReconcileReport,
    cancel,
    cancel_request,
    cancelling,
    capture,
    refund,
)
from verkstad.mpay.recovery import (
    LATE_LOOKUP,
    POLL_CONCURRENCY,
    capture_due,
    expire_due,
    poll,
    poll_due,
    reconcile,
)
from verkstad.mpay.requests import (
    MAX_EXPLANATION,
    REFERENCE_ATTEMPTS,
    SendForm,
    check,
    default_reference,
    record_manual,
    refresh,
    request_payment,
    send,
)
from verkstad.mpay.rows import (
    ENDED_UNPAID,
    PAID_STATES,
    SETTLE,
    P,
    Providers,
    new_key,
    payment_lines,
    request_by_provider_ref,
    request_of_order,
)
from verkstad.mpay.views import PaymentView

__all__ = [
    "ENDED_UNPAID",
    "LATE_LOOKUP",
    "MAX_EXPLANATION",
    "PAID_STATES",
    "POLL_CONCURRENCY",
    "PROGRESS",
    "REFERENCE_ATTEMPTS",
    "SETTLE",
    "P",
    "PaymentRequest",
    "PaymentView",
    "Providers",
    "ReconcileReport",
    "SendForm",
    "apply_status",
    "cancel",
    "cancel_request",
    "cancelling",
    "capture",
    "capture_due",
    "check",
    "default_reference",
    "expire_due",
    "new_key",
    "payment_lines",
    "poll",
    "poll_due",
    "reconcile",
    "record_manual",
    "refresh",
    "refund",
    "request_by_provider_ref",
    "request_of_order",
    "request_payment",
    "send",
]
