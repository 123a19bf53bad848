"""Vipps MobilePay ePayment API v1: a push to the customer's phone, reserve then capture.

The Vipps ``reference`` is derived from verkstad's idempotency key (the same
key always names the same payment, so ``lookup`` is a GET); verkstad's own
reference travels in ``metadata.verkstadReference`` and the description.
Requests expire after Vipps' default 10 minutes (a longer ``expiresAt``
needs an approved sales unit and a receipt, so it is not sent).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

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

LABEL = "Vipps"
REFERENCE = re.compile(r"^[a-zA-Z0-9-]{8,50}$")
CURRENCIES = ("NOK", "DKK", "EUR")
CALLBACK_TOLERANCE = timedelta(minutes=5)
P = PaymentState

# RFC 7807 problem types (the fragment of ``type``) and what staff are told.
PROBLEMS = {
    "customer-not-found": N_("Payment rejected: this number is not connected to Vipps"),
    "invalid-phone-number": N_("The phone number is not valid for Vipps."),
    "amount-too-small": N_("The amount is too small for Vipps (at least 1 krone)."),
    "amount-invalid": N_("Vipps does not accept this amount."),
    "no-cards": N_("The customer has no payment card in Vipps."),
    "idempotency-error": N_(
        "Vipps refused the request: it already has one with the same key but other details."
    ),
    "capture-idempotency-conflict": N_(
        "Vipps refused the capture: one with the same key but another amount exists."
    ),
    "refund-idempotency-conflict": N_(
        "Vipps refused the refund: one with the same key but another amount exists."
    ),
    "capture-amount-too-high": N_(
        "Vipps refused: more than the reserved amount cannot be captured."
    ),
    "cannot-capture-before-reservation": N_(
        "Vipps refused: the customer has not approved the payment yet."
    ),
    "cannot-capture-a-cancelled-payment": N_("Vipps refused: the reservation was cancelled."),
    "capture-period-expired": N_("Vipps refused: the time to capture this reservation has passed."),
    "cannot-cancel-a-captured-payment": N_("Vipps refused: the payment is already captured."),
    "cannot-cancel-pending": N_(
        "Vipps refused: the customer is approving the payment right now; check again shortly."
    ),
    "payment-cannot-be-cancelled": N_("Vipps refused: the payment can no longer be cancelled."),
    "not-enough-refundable": N_("Vipps refused: more than was captured cannot be refunded."),
    "payment-already-refunded": N_("Vipps refused: the payment is already refunded."),
    "attempted-refund-before-reservation": N_("Vipps refused: nothing has been paid to refund."),
    "refund-period-expired": N_("Vipps refused: the time to refund this payment has passed."),
}
REASONS = {
    "ABORTED": N_("The customer declined the payment in Vipps."),
    "EXPIRED": N_("The customer did not answer in time."),
    "TERMINATED": N_("The payment request was cancelled."),
}


def vipps_reference(idempotency_key: str) -> str:
    """A valid Vipps reference that the same key always gives."""
    if REFERENCE.match(idempotency_key):
        return idempotency_key
    return "vk-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def msisdn(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit())


def map_state(state: str, captured: int, refunded: int, cancelled: int) -> PaymentState:
    if state == "CREATED":
        return P.SENT
    if state == "AUTHORIZED":
        if captured == 0:
            return P.CANCELLED if cancelled else P.RESERVED
        if refunded == 0:
            return P.PAID
        return P.REFUNDED if refunded >= captured else P.PARTIALLY_REFUNDED
    return {"ABORTED": P.DECLINED, "EXPIRED": P.EXPIRED, "TERMINATED": P.CANCELLED}.get(
        state, P.FAILED
    )


class VippsProvider:
    name = "vipps"
    idempotent_create = True  # the same key never makes a second payment
    capabilities = frozenset(
        {Capability.RECEIVE, Capability.REFUND, Capability.PUSH, Capability.RESERVE_CAPTURE}
    )

    def __init__(self, settings: Settings) -> None:
        cfg = settings.vipps
        self._client_id = cfg.client_id
        self._client_secret = cfg.client_secret.get_secret_value()
        self._subscription_key = cfg.subscription_key.get_secret_value()
        self._msn = cfg.merchant_serial_number
        self._webhook_secret = cfg.webhook_secret.get_secret_value()
        self._http = http.make_client(settings.provider_url("vipps"), settings.http_timeout_seconds)
        self._token = http.TokenCache(self._fetch_token)

    def close(self) -> None:
        self._http.close()

    # ---------------------------------------------------------------- HTTP

    def _fetch_token(self) -> tuple[str, float]:
        response = http.send(
            self._http,
            LABEL,
            "POST",
            "/accesstoken/get",
            headers={
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "Ocp-Apim-Subscription-Key": self._subscription_key,
                "Merchant-Serial-Number": self._msn,
            },
        )
        http.refuse_credentials(response, LABEL)
        data = http.read_json(response, LABEL)
        try:
            return str(data["access_token"]), float(data["expires_in"])
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable(
                _("{provider} sent an answer that could not be read.").format(provider=LABEL)
            ) from None

    def _call(
        self, method: str, path: str, key: str | None = None, body: Any = None
    ) -> httpx.Response:
        """A request with fresh auth headers; a 401 gets one new token and one retry."""
        for attempt in (1, 2):
            headers = {
                "Authorization": f"Bearer {self._token.get()}",
                "Ocp-Apim-Subscription-Key": self._subscription_key,
                "Merchant-Serial-Number": self._msn,
                "Vipps-System-Name": "verkstad",
                "Vipps-System-Version": "0.1",
            }
            if key is not None:
                headers["Idempotency-Key"] = key
            response = http.send(self._http, LABEL, method, path, headers=headers, json=body)
            if response.status_code == 401 and attempt == 1:
                self._token.forget()
                continue
            http.refuse_credentials(response, LABEL)
            return response
        raise AssertionError("unreachable")

    def _refusal(self, response: httpx.Response) -> ProviderRefused:
        problem = http.read_json(response, LABEL)
        if not isinstance(problem, dict):
            problem = {}
        slug = str(problem.get("type", "")).rsplit("#", 1)[-1]
        if slug in PROBLEMS:
            return ProviderRefused(_(PROBLEMS[slug]), slug)
        detail = str(problem.get("detail") or problem.get("title") or response.status_code)
        return ProviderRefused(
            _("Vipps refused the request: {detail}").format(detail=detail), slug or "http"
        )

    # ---------------------------------------------------------------- payments

    def create(self, request: PaymentRequest) -> ProviderStatus:
        if request.amount.currency not in CURRENCIES:
            raise ProviderRefused(
                _("Vipps cannot take payments in {currency}.").format(
                    currency=request.amount.currency
                ),
                "currency",
            )
        if not request.phone:
            raise ProviderRefused(_("Vipps needs the customer's mobile number."), "phone")
        reference = vipps_reference(request.idempotency_key)
        description = f"{request.reference} {request.message}".strip()[:100].ljust(3, ".")
        body = {
            "amount": {"currency": request.amount.currency, "value": request.amount.minor},
            "customer": {"phoneNumber": msisdn(request.phone)},
            "paymentMethod": {"type": "WALLET"},
            "reference": reference,
            "userFlow": "PUSH_MESSAGE",
            "paymentDescription": description,
            "metadata": {"verkstadReference": request.reference[:100]},
        }
        response = self._call("POST", "/epayment/v1/payments", request.idempotency_key, body)
        if response.status_code != 201:
            raise self._refusal(response)
        http.read_json(response, LABEL)
        return ProviderStatus(reference, P.SENT, request.amount)

    def lookup(self, request: PaymentRequest) -> ProviderStatus | None:
        response = self._call(
            "GET", f"/epayment/v1/payments/{vipps_reference(request.idempotency_key)}"
        )
        if response.status_code == 404:
            return None
        return self._status_of(response)

    def status(self, provider_ref: str) -> ProviderStatus:
        return self._status_of(self._call("GET", f"/epayment/v1/payments/{provider_ref}"))

    def _status_of(self, response: httpx.Response) -> ProviderStatus:
        if response.status_code != 200:
            raise self._refusal(response)
        return self._to_status(http.read_json(response, LABEL))

    def _to_status(self, payment: dict[str, Any]) -> ProviderStatus:
        try:
            reference = str(payment["reference"])
            amount = Money(int(payment["amount"]["value"]), str(payment["amount"]["currency"]))
            agg = {k: int(v["value"]) for k, v in payment["aggregate"].items()}
            state = str(payment["state"])
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable(
                _("{provider} sent an answer that could not be read.").format(provider=LABEL)
            ) from None
        captured, refunded = agg.get("capturedAmount", 0), agg.get("refundedAmount", 0)
        cancelled = agg.get("cancelledAmount", 0)
        mapped = map_state(state, captured, refunded, cancelled)
        reason = REASONS.get(state)
        if state == "AUTHORIZED" and mapped == P.CANCELLED:
            reason = N_("The reservation was cancelled before it was captured.")
        return ProviderStatus(
            provider_ref=reference,
            state=mapped,
            amount=amount,
            authorized_minor=agg.get("authorizedAmount", 0),
            captured_minor=captured,
            refunded_minor=refunded,
            cancelled_minor=cancelled,
            paid_at=self._captured_at(reference) if captured else None,
            method=(payment.get("paymentMethod") or {}).get("type"),
            reason=_(reason) if reason else None,
            raw=payment,
        )

    def _captured_at(self, reference: str) -> datetime | None:
        """When the money was taken: the first successful CAPTURED event (Vipps' time)."""
        response = self._call("GET", f"/epayment/v1/payments/{reference}/events")
        if response.status_code != 200:
            raise self._refusal(response)
        for event in http.read_json(response, LABEL):
            if event.get("name") == "CAPTURED" and event.get("success"):
                return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))
        return None

    def _modify(self, provider_ref: str, op: str, key: str, body: Any) -> ProviderStatus:
        response = self._call("POST", f"/epayment/v1/payments/{provider_ref}/{op}", key, body)
        if response.status_code != 200:
            raise self._refusal(response)
        return self._to_status(http.read_json(response, LABEL))

    def cancel(self, provider_ref: str, idempotency_key: str) -> ProviderStatus:
        return self._modify(provider_ref, "cancel", idempotency_key, None)

    def capture(self, provider_ref: str, amount: Money, idempotency_key: str) -> ProviderStatus:
        body = {"modificationAmount": {"currency": amount.currency, "value": amount.minor}}
        return self._modify(provider_ref, "capture", idempotency_key, body)

    def refund(
        self,
        provider_ref: str,
        amount: Money,
        idempotency_key: str,
        lines: tuple[PaymentLine, ...] = (),
    ) -> ProviderStatus:
        body = {"modificationAmount": {"currency": amount.currency, "value": amount.minor}}
        return self._modify(provider_ref, "refund", idempotency_key, body)

    # ---------------------------------------------------------------- webhooks

    def verify_callback(
        self, path: str, headers: dict[str, str], body: bytes, now: datetime
    ) -> CallbackEvent:
        """HMAC-SHA256 over "POST\\n{path}\\n{x-ms-date};{host};{x-ms-content-sha256}"."""
        h = {k.lower(): v for k, v in headers.items()}
        try:
            date, host = h["x-ms-date"], h["host"]
            content_hash, authorization = h["x-ms-content-sha256"], h["authorization"]
            signature = authorization.split("Signature=", 1)[1]
            sent_at = parsedate_to_datetime(date)
        except (KeyError, IndexError, TypeError, ValueError):
            raise CallbackRejected(_("The Vipps callback is not signed.")) from None
        if not hmac.compare_digest(
            base64.b64encode(hashlib.sha256(body).digest()).decode(), content_hash
        ):
            raise CallbackRejected(_("The Vipps callback's body does not match its hash."))
        to_sign = f"POST\n{path}\n{date};{host};{content_hash}"
        expected = base64.b64encode(
            hmac.new(self._webhook_secret.encode(), to_sign.encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expected, signature):
            raise CallbackRejected(_("The Vipps callback's signature is wrong."))
        if abs(now - sent_at) > CALLBACK_TOLERANCE:
            raise CallbackRejected(_("The Vipps callback is too old."))
        try:
            payload = json.loads(body)
            return CallbackEvent(str(payload["reference"]), str(payload["name"]), payload)
        except (ValueError, KeyError, TypeError):
            raise CallbackRejected(_("The Vipps callback's body cannot be read.")) from None
