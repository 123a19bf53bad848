"""An in-memory payment provider for the books' tests (faults are injected by flags)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from verkstad.clock import now
from verkstad.money import Money
from verkstad.mpay.providers.base import (
    CallbackEvent,
    PaymentLine,
    PaymentRequest,
    ProviderRefused,
    ProviderStatus,
    ProviderUnavailable,
)
from verkstad.mpay.status import PaymentState


@dataclass
class _Payment:
    amount: Money
    state: PaymentState = PaymentState.SENT
    captured: int = 0
    refunded: int = 0
    paid_at: datetime | None = None


@dataclass
class FakeProvider:
    name: str = "resurs"
    capabilities: frozenset = frozenset()
    idempotent_create: bool = True
    payments: dict[str, _Payment] = field(default_factory=dict)
    refund_keys: list[str] = field(default_factory=list)
    refuse_refunds: bool = False
    unavailable: bool = False

    def __call__(self, name: str) -> FakeProvider:  # the ``providers`` callable
        return self

    def _status(self, ref: str) -> ProviderStatus:
        p = self.payments[ref]
        return ProviderStatus(
            ref,
            p.state,
            p.amount,
            captured_minor=p.captured,
            refunded_minor=p.refunded,
            paid_at=p.paid_at,
        )

    def create(self, request: PaymentRequest) -> ProviderStatus:
        ref = f"fake-{len(self.payments) + 1}"
        self.payments[ref] = _Payment(request.amount)
        return self._status(ref)

    def lookup(self, request: PaymentRequest) -> ProviderStatus | None:
        return None

    def status(self, provider_ref: str) -> ProviderStatus:
        return self._status(provider_ref)

    def pay(self, provider_ref: str) -> None:
        """The customer pays (what the sandbox's phone would do)."""
        p = self.payments[provider_ref]
        p.state, p.captured, p.paid_at = PaymentState.PAID, p.amount.minor, now()

    def cancel(self, provider_ref: str, idempotency_key: str) -> ProviderStatus:
        self.payments[provider_ref].state = PaymentState.CANCELLED
        return self._status(provider_ref)

    def capture(self, provider_ref: str, amount: Money, idempotency_key: str) -> ProviderStatus:
        return self._status(provider_ref)

    def refund(
        self,
        provider_ref: str,
        amount: Money,
        idempotency_key: str,
        lines: tuple[PaymentLine, ...] = (),
    ) -> ProviderStatus:
        if self.unavailable:
            raise ProviderUnavailable("timeout")
        if self.refuse_refunds:
            raise ProviderRefused("refund window closed", "R1")
        p = self.payments[provider_ref]
        if idempotency_key not in self.refund_keys:
            if amount.minor > p.captured - p.refunded:
                raise ProviderRefused("over-refund", "R2")
            self.refund_keys.append(idempotency_key)
            p.refunded += amount.minor
            full = p.refunded == p.captured
            p.state = PaymentState.REFUNDED if full else PaymentState.PARTIALLY_REFUNDED
        return self._status(provider_ref)

    def verify_callback(
        self, path: str, headers: dict[str, str], body: bytes, now: datetime
    ) -> CallbackEvent:
        raise NotImplementedError

    def close(self) -> None:
        pass
