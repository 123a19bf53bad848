"""Stripe Checkout: a payment link (valid 30 minutes to 24 hours) that verkstad sends itself.

Stripe does not text the customer; ``ProviderStatus.link`` carries the URL.
Requests are form-encoded in minor units with a lowercase currency and an
``Idempotency-Key``. A replay of a failed create can repeat the 500 (Stripe
saves it), so ``lookup`` lists recent sessions and finds ours by
``metadata[verkstadKey]``. Checkout captures at once: PAID means paid.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from verkstad.clock import now as clock_now
from verkstad.config import Settings
from verkstad.i18n import N_, _
from verkstad.money import Money
from verkstad.mpay.providers import http
from verkstad.mpay.providers.base import (
    CallbackEvent,
    CallbackRejected,
    Capability,
    PaymentLine,
    PaymentRequest,
    ProviderRefused,
    ProviderStatus,
    ProviderUnavailable,
)
from verkstad.mpay.status import PaymentState

LABEL = "Stripe"
API_VERSION = "2024-06-20"
SIGNATURE_TOLERANCE = timedelta(seconds=300)
LINK_LIFETIME = (timedelta(minutes=31), timedelta(hours=23, minutes=59))
LOOKUP_WINDOW = timedelta(days=2)
KEY_ROTATIONS = 5  # derived idempotency keys tried after a saved 500 (key, key:1, …)
P = PaymentState

CODES = {
    "amount_too_large": N_(
        "Stripe refused: more than was paid and not refunded cannot be refunded."
    ),
    "charge_already_refunded": N_("Stripe refused: the payment is already refunded."),
    "charge_not_refundable": N_("Stripe refused: nothing has been paid to refund."),
    "card_declined": N_("The customer's card was declined."),
}


def form(data: dict[str, Any] | list[Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested data in Stripe's bracket notation ("line_items[0][price_data][currency]")."""
    pairs: list[tuple[str, str]] = []
    items = list(enumerate(data)) if isinstance(data, list) else list(data.items())
    for key, value in items:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict | list):
            pairs += form(value, name)
        elif value is not None:
            pairs.append((name, str(value)))
    return pairs


def unix_time(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


class StripeProvider:
    name = "stripe"
    idempotent_create = True  # the same key never makes a second payment
    capabilities = frozenset(
        {Capability.RECEIVE, Capability.REFUND, Capability.LINK_SMS, Capability.LINK_EMAIL}
    )

    def __init__(self, settings: Settings) -> None:
        self._api_key = settings.stripe.api_key.get_secret_value()
        self._webhook_secret = settings.stripe.webhook_secret.get_secret_value()
        self._http = http.make_client(
            settings.provider_url("stripe"), settings.http_timeout_seconds
        )

    def close(self) -> None:
        self._http.close()

    def _call(
        self,
        method: str,
        path: str,
        key: str | None = None,
        data: dict[str, Any] | None = None,
        params: list[tuple[str, str]] | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self._api_key}", "Stripe-Version": API_VERSION}
        if key is not None:
            headers["Idempotency-Key"] = key
        response = http.send(
            self._http,
            LABEL,
            method,
            path,
            headers=headers,
            data=dict(form(data)) if data else None,
            params=params,
        )
        http.refuse_credentials(response, LABEL)
        body = http.read_json(response, LABEL)
        if response.status_code != 200:
            raise self._refusal(response, body)
        return body

    @staticmethod
    def _refusal(response: httpx.Response, body: Any) -> ProviderRefused:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        code = str(error.get("code") or error.get("type") or response.status_code)
        if error.get("type") == "idempotency_error":
            return ProviderRefused(
                _(
                    "Stripe refused the request: it already has one with the same key but other "
                    "details."
                ),
                "idempotency_error",
            )
        if code in CODES:
            return ProviderRefused(_(CODES[code]), code)
        return ProviderRefused(
            _("Stripe refused the request: {detail}").format(
                detail=error.get("message") or response.status_code
            ),
            code,
        )

    # ---------------------------------------------------------------- sessions

    def create(self, request: PaymentRequest) -> ProviderStatus:
        now = clock_now()
        lo, hi = LINK_LIFETIME
        expires = min(max(request.expires_at, now + lo), now + hi) if request.expires_at else None
        data: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": request.amount.currency.lower(),
                        "product_data": {"name": (request.message or request.reference)[:250]},
                        "unit_amount": request.amount.minor,
                    },
                    "quantity": 1,
                }
            ],
            "expires_at": int(expires.timestamp()) if expires else None,  # None: Stripe's 24 h
            "client_reference_id": request.reference[:200],
            "customer_email": request.email,
            "metadata": {
                "verkstadReference": request.reference[:500],
                "verkstadKey": request.idempotency_key,
            },
        }
        for rotation in range(KEY_ROTATIONS):
            key = request.idempotency_key + (f":{rotation}" if rotation else "")
            try:
                session = self._call("POST", "/v1/checkout/sessions", key, data)
            except http.ServerError as e:
                if e.response.headers.get("Idempotent-Replayed") != "true":
                    raise
                # Stripe keeps answering this key with its saved 500; if no session came of
                # it, the next derived key may create one (lookup still finds it by metadata).
                found = self.lookup(request)
                if found is not None:
                    return found
                continue
            return self._to_status(session)
        raise ProviderUnavailable(
            _("{provider} had an internal error (HTTP {status}).").format(
                provider=LABEL, status=500
            )
        )

    def lookup(self, request: PaymentRequest) -> ProviderStatus | None:
        since = int((clock_now() - LOOKUP_WINDOW).timestamp())
        after: str | None = None
        while True:
            params = [("limit", "100"), ("created[gte]", str(since))]
            if after:
                params.append(("starting_after", after))
            page = self._call("GET", "/v1/checkout/sessions", params=params)
            for session in page.get("data", []):
                if (session.get("metadata") or {}).get("verkstadKey") == request.idempotency_key:
                    return self.status(str(session["id"]))
            if not page.get("has_more") or not page.get("data"):
                return None
            after = str(page["data"][-1]["id"])

    def status(self, provider_ref: str) -> ProviderStatus:
        session = self._call(
            "GET",
            f"/v1/checkout/sessions/{provider_ref}",
            params=[("expand[]", "payment_intent"), ("expand[]", "payment_intent.latest_charge")],
        )
        return self._to_status(session)

    def _to_status(
        self, session: dict[str, Any], state: PaymentState | None = None
    ) -> ProviderStatus:
        try:
            amount = Money(int(session["amount_total"]), str(session["currency"]).upper())
            session_id, status = str(session["id"]), str(session["status"])
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable(
                _("{provider} sent an answer that could not be read.").format(provider=LABEL)
            ) from None
        intent = session.get("payment_intent")
        intent = intent if isinstance(intent, dict) else None
        charge = intent.get("latest_charge") if intent else None
        charge = charge if isinstance(charge, dict) else None
        captured = int(charge["amount_captured"]) if charge and charge.get("paid") else 0
        refunded = int(charge["amount_refunded"]) if charge and charge.get("paid") else 0
        failed = self._failed_attempts(str(intent["id"])) if intent else 0
        reason = None
        if state is None:
            if status == "expired":
                state = P.EXPIRED
            elif status == "complete" and session.get("payment_status") == "paid":
                state = P.PAID
                if refunded:
                    state = P.REFUNDED if refunded >= captured else P.PARTIALLY_REFUNDED
            elif intent is not None:
                state = P.IN_PROGRESS  # the customer has submitted payment details
            else:
                state = P.SENT
        if state in (P.IN_PROGRESS, P.EXPIRED) and intent and intent.get("last_payment_error"):
            code = str(intent["last_payment_error"].get("code") or "")
            reason = (
                _(CODES[code])
                if code in CODES
                else str(intent["last_payment_error"].get("message"))
            )
        return ProviderStatus(
            provider_ref=session_id,
            state=state,
            amount=amount,
            authorized_minor=captured,
            captured_minor=captured,
            refunded_minor=refunded,
            paid_at=unix_time(charge["created"]) if charge and charge.get("paid") else None,
            link=session.get("url") if status == "open" else None,
            method="CARD" if captured else None,
            reason=reason,
            failed_attempts=failed,
            raw=session,
        )

    def _failed_attempts(self, intent_id: str) -> int:
        charges = self._call("GET", "/v1/charges", params=[("payment_intent", intent_id)])
        return sum(1 for c in charges.get("data", []) if c.get("status") == "failed")

    def _post_once(
        self,
        path: str,
        key: str,
        data: dict[str, Any] | None,
        done: Callable[[], ProviderStatus | None],
    ) -> Any:
        """POST with ``key``; when Stripe keeps replaying a saved 500 for it, ``done()`` says
        whether the work happened after all, else the next derived key (key:1, …) is tried.
        Without this, an operation whose first try met a 500 could never be finished."""
        for rotation in range(KEY_ROTATIONS):
            try:
                return self._call("POST", path, key + (f":{rotation}" if rotation else ""), data)
            except http.ServerError as e:
                if e.response.headers.get("Idempotent-Replayed") != "true":
                    raise
                found = done()
                if found is not None:
                    return found
        raise ProviderUnavailable(
            _("{provider} had an internal error (HTTP {status}).").format(
                provider=LABEL, status=500
            )
        )

    def cancel(self, provider_ref: str, idempotency_key: str) -> ProviderStatus:
        def ended() -> ProviderStatus | None:
            status = self.status(provider_ref)
            return None if status.state in (P.SENT, P.OPENED, P.IN_PROGRESS) else status

        session = self._post_once(
            f"/v1/checkout/sessions/{provider_ref}/expire", idempotency_key, None, ended
        )
        if isinstance(session, ProviderStatus):
            return replace(session, state=P.CANCELLED) if session.state == P.EXPIRED else session
        return self._to_status(session, P.CANCELLED)

    def capture(self, provider_ref: str, amount: Money, idempotency_key: str) -> ProviderStatus:
        raise ProviderRefused(
            _("Stripe Checkout takes the money at once; there is nothing to capture.")
        )

    def refund(
        self,
        provider_ref: str,
        amount: Money,
        idempotency_key: str,
        lines: tuple[PaymentLine, ...] = (),
    ) -> ProviderStatus:
        paid = self.status(provider_ref)
        intent = paid.raw.get("payment_intent")
        if not isinstance(intent, dict):
            raise ProviderRefused(_(CODES["charge_not_refundable"]), "charge_not_refundable")
        data = {
            "payment_intent": intent["id"],
            "amount": amount.minor,
            "metadata": {"verkstadKey": idempotency_key},
        }

        def refunded() -> ProviderStatus | None:
            listed = self._call("GET", "/v1/refunds", params=[("payment_intent", intent["id"])])
            mine = [
                r
                for r in listed.get("data", [])
                if (r.get("metadata") or {}).get("verkstadKey") == idempotency_key
            ]
            return self.status(provider_ref) if mine else None

        self._post_once("/v1/refunds", idempotency_key, data, refunded)
        return self.status(provider_ref)

    # ---------------------------------------------------------------- webhooks

    def verify_callback(
        self, path: str, headers: dict[str, str], body: bytes, now: datetime
    ) -> CallbackEvent:
        """``Stripe-Signature: t=…,v1=…``: HMAC-SHA256 of "{t}.{body}", at most 300 s old."""
        header = {k.lower(): v for k, v in headers.items()}.get("stripe-signature", "")
        parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
        stamps = [v for k, v in parts if k.strip() == "t"]
        signatures = [v for k, v in parts if k.strip() == "v1"]
        if not stamps or not signatures or not stamps[0].isdigit():
            raise CallbackRejected(_("The Stripe callback is not signed."))
        expected = hmac.new(
            self._webhook_secret.encode(), stamps[0].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        if not any(hmac.compare_digest(expected, s) for s in signatures):
            raise CallbackRejected(_("The Stripe callback's signature is wrong."))
        if abs(now - unix_time(stamps[0])) > SIGNATURE_TOLERANCE:
            raise CallbackRejected(_("The Stripe callback is too old."))
        try:
            event = json.loads(body)
            obj = event["data"]["object"]
            kind = str(event["type"])
        except (ValueError, KeyError, TypeError):
            raise CallbackRejected(_("The Stripe callback's body cannot be read.")) from None
        if obj.get("object") == "checkout.session":
            return CallbackEvent(str(obj["id"]), kind, event)
        intent = obj.get("payment_intent") if obj.get("object") == "charge" else obj.get("id")
        sessions = self._call(
            "GET", "/v1/checkout/sessions", params=[("payment_intent", str(intent)), ("limit", "1")]
        )
        if not sessions.get("data"):
            raise CallbackRejected(_("The Stripe callback concerns no known payment."))
        return CallbackEvent(str(sessions["data"][0]["id"]), kind, event)
