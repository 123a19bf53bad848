"""Resurs Bank Merchant API 2.0, POS flow: Resurs texts the customer a link; the customer
chooses to pay in full, by invoice or in parts; the merchant always gets the full amount.

Resurs has no idempotency header. ``create`` therefore searches for the
order reference (derived from verkstad's idempotency key) before creating,
and capture / refund / cancel carry a ``transactionId`` derived from their
key and are skipped when the payment's action log already has it.
Amounts are decimal major units (parsed as Decimal) with VAT per order line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

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

LABEL = "Resurs Bank"
TOKEN_TIMEOUT_SECONDS = 3599
REFERENCE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
TWO = Decimal("0.01")
P = PaymentState

METHODS = {
    "CARD": "CARD",
    "RESURS_CARD": "CARD",
    "RESURS_INVOICE": "INVOICE",
    "RESURS_PART_PAYMENT": "PART_PAYMENT",
    "RESURS_REVOLVING_CREDIT": "PART_PAYMENT",
    "RESURS_ZERO": "INSTALMENTS",
}
REJECTIONS = {
    "CREDIT_DENIED": N_("Resurs Bank did not grant the customer credit."),
    "ABORTED_BY_CUSTOMER": N_("The customer declined the payment."),
    "INSUFFICIENT_FUNDS": N_("The customer's account has insufficient funds."),
    "TIMEOUT": N_("The customer did not answer in time."),
    "CANCELED": N_("The payment request was cancelled."),
    "TECHNICAL_ERROR": N_("Resurs Bank had a technical error."),
    "PAYMENT_FROZEN": N_("Resurs Bank froze the payment."),
}


def order_reference(key: str) -> str:
    """Resurs' orderReference (1-32 of [A-Za-z0-9_-]); the same key gives the same one."""
    return key if REFERENCE.match(key) else hashlib.sha256(key.encode()).hexdigest()[:32]


def transaction_id(key: str) -> str:
    return order_reference(key)


def decimal_amount(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-2).quantize(TWO)


def wire_line(line: PaymentLine) -> dict[str, Any]:
    return {
        "description": line.description[:50],
        "quantity": (Decimal(line.quantity_milli).scaleb(-3)).quantize(TWO),
        "quantityUnit": line.unit[:50],
        "vatRate": Decimal(line.vat_rate),
        "totalAmountIncludingVat": decimal_amount(line.total_incl_vat_minor),
        "type": "DISCOUNT" if line.total_incl_vat_minor < 0 else "NORMAL",
    }


class ResursProvider:
    name = "resurs"
    idempotent_create = False  # Resurs has no idempotency: a repeated create is a second payment
    capabilities = frozenset(
        {
            Capability.RECEIVE,
            Capability.REFUND,
            Capability.LINK_SMS,
            Capability.RESERVE_CAPTURE,
            Capability.PART_PAYMENT,
            Capability.INVOICE,
            Capability.INSTALMENTS,
        }
    )

    def __init__(self, settings: Settings, callback_url: str | None = None) -> None:
        cfg = settings.resurs
        self._client_id = cfg.client_id
        self._client_secret = cfg.client_secret.get_secret_value()
        self._store_id = cfg.store_id
        self._callback_url = callback_url or cfg.callback_url or None
        self._http = http.make_client(
            settings.provider_url("resurs"), settings.http_timeout_seconds
        )
        self._token = http.TokenCache(self._fetch_token)
        self._method_id: str | None = None

    def close(self) -> None:
        self._http.close()

    # ---------------------------------------------------------------- HTTP

    def _fetch_token(self) -> tuple[str, float]:
        response = http.send(
            self._http,
            LABEL,
            "POST",
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "scope": "merchant-api",
            },
        )
        http.refuse_credentials(response, LABEL)
        data = http.read_json(response, LABEL)
        try:
            return str(data["access_token"]), float(data.get("expires_in", TOKEN_TIMEOUT_SECONDS))
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable(
                _("{provider} sent an answer that could not be read.").format(provider=LABEL)
            ) from None

    def _call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        for attempt in (1, 2):
            response = http.send(
                self._http,
                LABEL,
                method,
                path,
                headers={
                    "Authorization": f"Bearer {self._token.get()}",
                    "Content-Type": "application/json",
                },
                content=http.exact_json(body) if body is not None else None,
            )
            if response.status_code == 401 and attempt == 1:
                self._token.forget()
                continue
            http.refuse_credentials(response, LABEL)
            data = http.read_json(response, LABEL)
            if response.status_code not in ok:
                raise self._refusal(response, data)
            return data
        raise AssertionError("unreachable")

    @staticmethod
    def _refusal(response: httpx.Response, data: Any) -> ProviderRefused:
        detail = data.get("message") if isinstance(data, dict) else None
        code = str(data.get("code") if isinstance(data, dict) else response.status_code)
        return ProviderRefused(
            _("Resurs Bank refused the request: {detail}").format(
                detail=detail or response.status_code
            ),
            code,
        )

    def _payment_method(self, amount: Money) -> str:
        """The store's first payment method whose limits fit (M-Pay lets the customer choose)."""
        if self._method_id is None:
            methods = self._call("GET", f"/v2/stores/{self._store_id}/payment_methods")
            fitting = [
                m
                for m in methods.get("content", [])
                if Decimal(str(m.get("minPurchaseLimit", 0))) <= amount.decimal
                and amount.decimal <= Decimal(str(m.get("maxPurchaseLimit", "1e12")))
            ]
            if not fitting:
                raise ProviderRefused(
                    _("Resurs Bank offers no payment method for this amount."), "method"
                )
            self._method_id = str(fitting[0]["id"])
        return self._method_id

    # ---------------------------------------------------------------- payments

    def create(self, request: PaymentRequest) -> ProviderStatus:
        found = self.lookup(request)  # no idempotency at Resurs: never create twice
        if found is not None:
            return found
        if request.amount.currency != "SEK":
            raise ProviderRefused(_("Resurs Bank only takes payments in SEK."), "currency")
        if not request.phone:
            raise ProviderRefused(_("Resurs Bank needs the customer's mobile number."), "phone")
        lines = [wire_line(line) for line in request.lines] or [
            {
                "description": (request.message or request.reference)[:50],
                "quantity": Decimal("1.00"),
                "quantityUnit": "",
                "vatRate": Decimal(0),
                "totalAmountIncludingVat": decimal_amount(request.amount.minor),
                "type": "NORMAL",
            }
        ]
        if sum(line["totalAmountIncludingVat"] for line in lines) != request.amount.decimal:
            raise ProviderRefused(_("The order lines do not add up to the amount."), "lines")
        ttl = 24 * 60
        if request.expires_at is not None:
            ttl = int((request.expires_at - clock_now()).total_seconds() // 60)
        options: dict[str, Any] = {
            "initiatedOnCustomersDevice": False,
            "deliverLinks": True,
            "handleManualInspection": False,
            "handleFrozenPayments": True,
            "automaticCapture": False,
            "timeToLiveInMinutes": min(max(ttl, 1), 43_200),
        }
        if self._callback_url:
            url = self._signed_callback_url()
            options["callbacks"] = {"authorization": {"url": url}, "management": {"url": url}}
        customer: dict[str, Any] = {"customerType": "NATURAL", "mobilePhone": request.phone}
        if request.email:
            customer["email"] = request.email
        body = {
            "storeId": self._store_id,
            "paymentMethodId": self._payment_method(request.amount),
            "order": {
                "orderReference": order_reference(request.idempotency_key),
                "orderLines": lines,
            },
            "customer": customer,
            "metadata": {
                "creator": "verkstad",
                "custom": [{"key": "verkstadReference", "value": request.reference[:100]}],
            },
            "options": options,
        }
        return self._to_status(self._call("POST", "/v2/payments", body, ok=(200, 201)))

    def lookup(self, request: PaymentRequest) -> ProviderStatus | None:
        found = self._call(
            "POST",
            "/v2/payments/search",
            {"storeId": self._store_id, "orderReference": order_reference(request.idempotency_key)},
        )
        content = found.get("content") or []
        return self._to_status(content[0]) if content else None

    def status(self, provider_ref: str) -> ProviderStatus:
        return self._to_status(self._get(provider_ref))

    def _get(self, provider_ref: str) -> dict[str, Any]:
        payment: dict[str, Any] = self._call("GET", f"/v2/payments/{provider_ref}")
        return payment

    def _to_status(self, payment: dict[str, Any]) -> ProviderStatus:
        try:
            order = payment["order"]
            amounts = {
                k: http.minor_units(order[f"{k}Amount"])
                for k in ("totalOrder", "authorized", "captured", "refunded", "canceled")
            }
            payment_id, status = str(payment["id"]), str(payment["status"])
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable(
                _("{provider} sent an answer that could not be read.").format(provider=LABEL)
            ) from None
        captured, refunded = amounts["captured"], amounts["refunded"]
        reason = None
        if status == "TASK_REDIRECTION_REQUIRED":
            state = P.OPENED if self._customer_active(payment_id) else P.SENT
        elif status in ("FROZEN", "INSPECTION", "SUPPLEMENTING_REQUIRED"):
            state = P.IN_PROGRESS
        elif status == "ACCEPTED":
            if captured == 0:
                state = P.CANCELLED if amounts["canceled"] >= amounts["authorized"] else P.RESERVED
            elif refunded == 0:
                state = P.PAID
            else:
                state = P.REFUNDED if refunded >= captured else P.PARTIALLY_REFUNDED
        elif status == "REJECTED":
            category = str((payment.get("rejectedReason") or {}).get("category") or "")
            state = {"TIMEOUT": P.EXPIRED, "CANCELED": P.CANCELLED}.get(category, P.DECLINED)
            reason = _(REJECTIONS[category]) if category in REJECTIONS else None
        else:
            state = P.FAILED
        method = payment.get("paymentMethod") or {}
        captures = [a for a in order.get("actionLog", []) if a.get("type") == "CAPTURE"]
        urls = payment.get("taskRedirectionUrls") or {}
        return ProviderStatus(
            provider_ref=payment_id,
            state=state,
            amount=Money(amounts["totalOrder"], "SEK"),
            authorized_minor=amounts["authorized"],
            captured_minor=captured,
            refunded_minor=refunded,
            cancelled_minor=amounts["canceled"],
            paid_at=datetime.fromisoformat(str(captures[0]["created"]).replace("Z", "+00:00"))
            if captures
            else None,
            link=urls.get("customerUrl"),
            method=METHODS.get(str(method.get("type")), method.get("name")),
            reason=reason,
            raw=payment,
        )

    def _customer_active(self, payment_id: str) -> bool:
        """Whether the customer has the payment's task open (``/tasks/status``)."""
        task = self._call("GET", f"/v2/payments/{payment_id}/tasks/status")
        return bool((task.get("customer") or {}).get("hasActiveTask"))

    # ---------------------------------------------------------------- capture / refund / cancel

    def _manage(
        self,
        provider_ref: str,
        action: str,
        idempotency_key: str,
        amount: Money | None,
        lines: tuple[PaymentLine, ...] = (),
    ) -> ProviderStatus:
        payment = self._get(provider_ref)
        tx = transaction_id(idempotency_key)
        order = payment.get("order") or {}
        if any(a.get("transactionId") == tx for a in order.get("actionLog", [])):
            return self._to_status(payment)  # an earlier attempt got through
        body: dict[str, Any] = {"creator": "verkstad", "transactionId": tx}
        if lines:
            body["orderLines"] = [wire_line(line) for line in lines]
        elif amount is not None and amount.minor != self._eligible(order, action):
            body["orderLines"] = [
                {
                    "description": _("Refund") if action == "refund" else _("Partial capture"),
                    "quantity": Decimal("1.00"),
                    "quantityUnit": "",
                    "vatRate": self._vat_rate(order),
                    "totalAmountIncludingVat": amount.decimal,
                    "type": "NORMAL",
                }
            ]
        return self._to_status(self._call("POST", f"/v2/payments/{provider_ref}/{action}", body))

    @staticmethod
    def _eligible(order: dict[str, Any], action: str) -> int:
        def m(key: str) -> int:
            return http.minor_units(order.get(f"{key}Amount", 0))

        if action == "refund":
            return m("captured") - m("refunded")
        return m("authorized") - m("captured") - m("canceled")

    @staticmethod
    def _vat_rate(order: dict[str, Any]) -> Decimal:
        """For a part without lines: the order's VAT rate (the highest if it has several)."""
        rates = [
            Decimal(str(line["vatRate"]))
            for action in order.get("actionLog", [])
            if action.get("type") == "CREATE"
            for line in action.get("orderLines", [])
        ]
        return max(rates, default=Decimal(0))

    def cancel(self, provider_ref: str, idempotency_key: str) -> ProviderStatus:
        return self._manage(provider_ref, "cancel", idempotency_key, None)

    def capture(self, provider_ref: str, amount: Money, idempotency_key: str) -> ProviderStatus:
        return self._manage(provider_ref, "capture", idempotency_key, amount)

    def refund(
        self,
        provider_ref: str,
        amount: Money,
        idempotency_key: str,
        lines: tuple[PaymentLine, ...] = (),
    ) -> ProviderStatus:
        return self._manage(provider_ref, "refund", idempotency_key, amount, lines)

    # ---------------------------------------------------------------- callbacks

    def _callback_token(self) -> str:
        """Resurs signs nothing, so the callback URL it is given carries a token only Resurs
        and verkstad know (derived from the client secret); a callback without it is forged."""
        digest = hmac.new(self._client_secret.encode(), b"verkstad resurs callback", "sha256")
        return digest.hexdigest()[:32]

    def _signed_callback_url(self) -> str:
        assert self._callback_url is not None
        sep = "&" if "?" in self._callback_url else "?"
        return f"{self._callback_url}{sep}token={self._callback_token()}"

    def verify_callback(
        self, path: str, headers: dict[str, str], body: bytes, now: datetime
    ) -> CallbackEvent:
        """The URL's token must be verkstad's; then the shape is checked and the caller
        re-fetches the payment (the state never comes from the callback)."""
        sent = parse_qs(urlsplit(path).query).get("token", [""])[0]
        if not hmac.compare_digest(sent, self._callback_token()):
            raise CallbackRejected(_("The Resurs Bank callback's token is wrong."))
        try:
            payload = json.loads(body)
            payment_id = str(uuid.UUID(str(payload["paymentId"])))
            datetime.fromisoformat(str(payload["created"]).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            raise CallbackRejected(_("The Resurs Bank callback cannot be read.")) from None
        name = str(payload.get("status") or payload.get("action") or "")
        return CallbackEvent(payment_id, name, payload)
