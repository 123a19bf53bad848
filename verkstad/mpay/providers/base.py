"""The one protocol every payment provider adapter implements.

Adapters know HTTP, not the database: they turn a ``PaymentRequest`` into the
provider's real API calls and its answers into a ``ProviderStatus``. The
payment service owns persistence, idempotency keys and recovery.

Errors: ``ProviderRefused`` is a definite "no" (nothing happened at the
provider, e.g. "Customer not found", ACMT03, over-refund); ``ProviderUnavailable``
means the outcome is unknown (timeout, 5xx, 429, malformed reply, dropped
connection) and must be resolved by ``lookup``/``status``, never by a new create.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from verkstad.errors import DomainError
from verkstad.money import Money
from verkstad.mpay.status import PaymentState


class Capability(StrEnum):
    RECEIVE = "receive"
    REFUND = "refund"
    PAYOUT = "payout"
    PUSH = "push"  # the provider notifies the customer's phone itself
    LINK_SMS = "link_sms"  # a link the customer gets by SMS
    LINK_EMAIL = "link_email"
    RESERVE_CAPTURE = "reserve_capture"  # authorise first, capture later
    PART_PAYMENT = "part_payment"
    INVOICE = "invoice"
    INSTALMENTS = "instalments"


@dataclass(frozen=True)
class PaymentLine:
    """An order line as credit providers (Resurs) want it: VAT per line."""

    description: str
    quantity_milli: int
    unit: str
    unit_price_minor: int  # excl. VAT
    vat_rate: int  # percent
    total_incl_vat_minor: int


@dataclass(frozen=True)
class PaymentRequest:
    idempotency_key: str  # the same for every retry of this request (ASCII, ≤ 50 chars)
    reference: str  # verkstad's reference as staff see it (any alphabet, spaces)
    amount: Money
    phone: str | None = None  # E.164, "+46701234567"
    email: str | None = None
    message: str = ""  # the explanation sent to the customer (≤ 500 chars)
    customer_name: str = ""
    lines: tuple[PaymentLine, ...] = ()
    expires_at: datetime | None = None
    send_sms: bool = True
    send_email: bool = False


@dataclass(frozen=True)
class ProviderStatus:
    provider_ref: str  # the provider's id of the payment
    state: PaymentState
    amount: Money
    authorized_minor: int = 0
    captured_minor: int = 0
    refunded_minor: int = 0
    cancelled_minor: int = 0
    paid_at: datetime | None = None  # when the money was received (provider's time)
    link: str | None = None  # the payment link the customer got, if any
    method: str | None = None  # how the customer chose to pay (CARD, INVOICE, PART_PAYMENT…)
    reason: str | None = None  # plain words for FAILED / DECLINED (translated)
    failed_attempts: int = 0  # tries the customer failed before this state (e.g. a declined card)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallbackEvent:
    """A verified provider callback: which payment it concerns (re-fetch it for the state)."""

    provider_ref: str
    name: str
    raw: dict[str, Any] = field(default_factory=dict)


class ProviderRefused(DomainError):
    """The provider said no; nothing happened there. ``code`` is the provider's own."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class ProviderUnavailable(DomainError):
    """The outcome is unknown: ask the provider (lookup/status) before doing anything else."""


class CallbackRejected(DomainError):
    """A callback whose signature, timestamp or body does not verify."""


class PaymentProvider(Protocol):
    name: str
    capabilities: frozenset[Capability]
    # Whether ``create`` repeated with the same idempotency key is safe even while an earlier
    # attempt may still land (False: verkstad waits before it sends a lost create again).
    idempotent_create: bool

    def create(self, request: PaymentRequest) -> ProviderStatus:
        """Ask the customer to pay. Safe to retry with the same request (idempotency key)."""
        ...

    def lookup(self, request: PaymentRequest) -> ProviderStatus | None:
        """Find what the provider holds for this request (by key/reference); None if nothing."""
        ...

    def status(self, provider_ref: str) -> ProviderStatus: ...

    def cancel(self, provider_ref: str, idempotency_key: str) -> ProviderStatus:
        """Make the customer's link/push unusable (before payment)."""
        ...

    def capture(self, provider_ref: str, amount: Money, idempotency_key: str) -> ProviderStatus: ...

    def refund(
        self,
        provider_ref: str,
        amount: Money,
        idempotency_key: str,
        lines: tuple[PaymentLine, ...] = (),
    ) -> ProviderStatus: ...

    def verify_callback(
        self, path: str, headers: dict[str, str], body: bytes, now: datetime
    ) -> CallbackEvent:
        """Check the callback's authenticity (raise CallbackRejected) and say which payment."""
        ...

    def close(self) -> None: ...
