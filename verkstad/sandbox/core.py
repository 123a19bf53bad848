"""What every emulated provider shares: config, clock, store, the phone, money movements."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from starlette.responses import Response
from starlette.routing import BaseRoute

from verkstad.config import Settings
from verkstad.i18n import _
from verkstad.sandbox.clock import VirtualClock
from verkstad.sandbox.scenarios import Scenario, digits, scenario_for
from verkstad.sandbox.store import Payment, SavedResponse, Store
from verkstad.sandbox.webhooks import WebhookQueue


@dataclass(frozen=True)
class SandboxConfig:
    """Credentials the emulated providers accept, and the URL links are written with."""

    public_url: str = "http://127.0.0.1:8765"
    vipps_client_id: str = "sandbox-client"
    vipps_client_secret: str = "sandbox-secret"
    vipps_subscription_key: str = "sandbox-subscription-key"
    vipps_msn: str = "123456"
    vipps_webhook_secret: str = "sandbox-webhook-secret"
    stripe_api_key: str = "sk_test_sandbox"
    stripe_webhook_secret: str = "whsec_sandbox"
    resurs_client_id: str = "sandbox-client"
    resurs_client_secret: str = "sandbox-secret"
    resurs_store_id: str = "sandbox-store"
    sms_username: str = "verkstad"
    sms_password: str = "sandbox-sms-password"

    @classmethod
    def from_settings(cls, settings: Settings, public_url: str) -> SandboxConfig:
        """Accept exactly the credentials verkstad is configured with."""
        return cls(
            public_url=public_url.rstrip("/"),
            vipps_client_id=settings.vipps.client_id,
            vipps_client_secret=settings.vipps.client_secret.get_secret_value(),
            vipps_subscription_key=settings.vipps.subscription_key.get_secret_value(),
            vipps_msn=settings.vipps.merchant_serial_number,
            vipps_webhook_secret=settings.vipps.webhook_secret.get_secret_value(),
            stripe_api_key=settings.stripe.api_key.get_secret_value(),
            stripe_webhook_secret=settings.stripe.webhook_secret.get_secret_value(),
            resurs_client_id=settings.resurs.client_id,
            resurs_client_secret=settings.resurs.client_secret.get_secret_value(),
            resurs_store_id=settings.resurs.store_id,
            sms_username=settings.sms.username,
            sms_password=settings.sms.password.get_secret_value(),
        )


class Action(StrEnum):
    """What the customer does on the phone."""

    OPEN = "open"  # opens the link / push
    START = "start"  # starts entering details
    APPROVE = "approve"
    DECLINE = "decline"
    EXPIRE = "expire"  # lets it run out (the provider's expiry, now)


class SandboxError(Exception):
    """A refused control or customer action (HTTP status plus a plain message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Emulator(Protocol):
    name: str
    methods: tuple[str, ...]  # approve --method choices this provider offers

    def routes(self) -> list[BaseRoute]: ...

    def act(self, p: Payment, action: Action, method: str | None) -> None:
        """Apply a customer action (raise SandboxError when it cannot happen now)."""
        ...

    def tick(self, p: Payment, now: datetime) -> None:
        """Apply what time does to a live payment (expiry, capture windows)."""
        ...

    def summary(self, p: Payment) -> dict[str, Any]:
        """Plain facts for the phone page and the control API."""
        ...

    def save(self, p: Payment) -> None:
        """Store the payment, marking whether time can still change it."""
        ...


class InFlight:
    """How many HTTP requests the sandbox is handling (a slow one may still be working after
    its caller gave up); ``wait_idle`` lets a test continue once all have finished."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def begin(self) -> None:
        with self._idle:
            self._count += 1

    def end(self) -> None:
        with self._idle:
            self._count -= 1
            if self._count == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


class RateLimiter:
    """Sliding windows on the virtual clock (in memory: a restart forgives)."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str, limit: int, window: timedelta, now: datetime) -> bool:
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            return True

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


# ---------------------------------------------------------------- the sandbox

TICK_EVERY = 0.2  # seconds between full ticks while the virtual clock runs on


class Sandbox:
    def __init__(self, store: Store, config: SandboxConfig) -> None:
        self.store = store
        self.config = config
        self.clock = VirtualClock(store)
        self.limiter = RateLimiter()
        self.webhooks = WebhookQueue(store, self.clock)
        self.requests = InFlight()
        self.emulators: dict[str, Emulator] = {}
        self._ticked: tuple[datetime, float] | None = None  # virtual and monotonic time

    def now(self) -> datetime:
        return self.clock.now()

    def link(self, path: str) -> str:
        return f"{self.config.public_url}{path}"

    def remember(self, scope: str, key: str, request_hash: str, response: Response) -> None:
        """Save a response under an idempotency key (the first one wins)."""
        headers = {
            k: v for k, v in response.headers.items() if k.lower() not in ("content-length",)
        }
        saved = SavedResponse(request_hash, response.status_code, bytes(response.body), headers)
        self.store.save_response(scope, key, saved, self.now())

    def rate_limited(self, key: str, limit: int, window: timedelta) -> bool:
        """True when this call breaks the provider's real limit (and limits are on)."""
        if not self.store.get("faults", {}).get("rate_limits", True):
            return False
        return not self.limiter.allow(key, limit, window, self.now())

    def tick(self) -> None:
        """Let virtual time act on every live payment (called before each request).

        That reads every live payment, so while the clock simply runs on it is done at
        most every TICK_EVERY seconds (with a thousand open requests a full tick before
        each call cost more than the call); a jump of the clock (advance, freeze) acts
        at once.
        """
        now, wall = self.now(), time.monotonic()
        last = self._ticked
        if last is not None:
            ran = wall - last[1]
            if ran < TICK_EVERY and abs((now - last[0]).total_seconds() - ran) < 0.01:
                return
        self._ticked = (now, wall)
        for p in self.store.live_payments():
            emulator = self.emulators.get(p.provider)
            if emulator is not None:
                emulator.tick(p, now)

    def reset(self) -> None:
        self.store.reset(settings_too=True)
        self.limiter.clear()

    # ---------------------------------------------------------------- the phone

    def text(
        self,
        number: str,
        provider: str,
        kind: str,
        text: str,
        link: str | None = None,
        payment: Payment | None = None,
    ) -> None:
        """A push or SMS arrives on the customer's phone."""
        self.store.add_message(
            digits(number),
            {
                "at": self.now().isoformat(),
                "provider": provider,
                "kind": kind,
                "text": text,
                "link": link,
                "payment_id": payment.id if payment else None,
                "reference": payment.human_ref or payment.merchant_ref if payment else None,
            },
        )

    def after_create(self, p: Payment) -> None:
        """Scripted customers act at once; ordinary ones wait."""
        scenario = scenario_for(p.phone)
        emulator = self.emulators[p.provider]
        if scenario == Scenario.APPROVES:
            emulator.act(p, Action.APPROVE, None)
        elif scenario == Scenario.DECLINES:
            emulator.act(p, Action.DECLINE, None)
        elif scenario == Scenario.PAYS_SECOND_TRY:
            emulator.act(p, Action.APPROVE, None)
            fresh = self.store.payment(p.provider, p.id)
            if fresh is not None and fresh.live:
                emulator.act(fresh, Action.APPROVE, None)

    def first_attempt_fails(self, p: Payment) -> bool:
        """For the "pays after a first failed attempt" number: True exactly once per number."""
        if scenario_for(p.phone) != Scenario.PAYS_SECOND_TRY:
            return False
        key = f"failed_once.{digits(p.phone)}"
        if self.store.get(key):
            return False
        self.store.put(key, True)
        return True

    def act(self, reference: str, action: Action, method: str | None = None) -> Payment:
        """A customer action on the payment known by ``reference`` (any of its references)."""
        p = self.resolve(reference)
        emulator = self.emulators[p.provider]
        if scenario_for(p.phone) == Scenario.NEVER_ANSWERS and action != Action.EXPIRE:
            raise SandboxError(409, _("This customer never answers; let the request expire."))
        if method and method not in emulator.methods:
            raise SandboxError(
                400,
                _("{provider} offers these methods: {choices}").format(
                    provider=p.provider, choices=", ".join(emulator.methods)
                ),
            )
        emulator.act(p, action, method)
        fresh = self.store.payment(p.provider, p.id)
        assert fresh is not None
        return fresh

    def resolve(self, reference: str) -> Payment:
        """The provider's id, the merchant's reference or verkstad's reference; newest wins."""
        found = self.store.find_payments(reference.strip())
        if not found:
            raise SandboxError(
                404, _("No payment in the sandbox has the reference {ref}.").format(ref=reference)
            )
        live = [p for p in found if p.live]
        return (live or found)[-1]

    # ---------------------------------------------------------------- settlement

    def money_moved(
        self, p: Payment, kind: str, amount_minor: int, currency: str, **details: Any
    ) -> None:
        """Record a capture/payment or refund for the settlement reports."""
        self.store.add_transaction(
            p.provider,
            self.now(),
            {
                "kind": kind,
                "payment_id": p.id,
                "merchant_ref": p.merchant_ref,
                "human_ref": p.human_ref,
                "amount_minor": amount_minor,
                "currency": currency,
                **details,
            },
        )
