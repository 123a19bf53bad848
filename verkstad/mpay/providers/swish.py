"""Swish Commerce API: a payment request to the customer's Swish, paid at once (no reservation).

The instruction UUID is derived from verkstad's idempotency key, so a retry
lands on the same request (Swish answers RP09 and we read it back) and
``lookup`` is a GET. Swish cannot list a payment's refunds, so refunds use
UUIDs derived from the payment and a slot number 1, 2, 3…: ``status`` reads
the slots until the first empty one, and ``refund`` finds its own earlier
attempt by ``payerPaymentReference`` (derived from the refund's key) before
using the next free slot. Callbacks carry a ``callbackIdentifier`` derived
by HMAC from the payment, checked without any stored state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from verkstad.config import Settings
from verkstad.errors import ConfigError
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

LABEL = "Swish"
NAMESPACE = uuid.UUID("6f0b7c1e-2f57-4c1e-9a8e-5d0c7a1f3b21")
MAX_REFUNDS = 50
SANDBOX_CALLBACK_SECRET = "verkstad-swish-sandbox"
P = PaymentState

ERRORS = {
    "ACMT03": N_("The number is not connected to Swish."),
    "ACMT01": N_("The customer's Swish is not activated."),
    "ACMT07": N_("The workshop's Swish number is not enrolled; check the Swish settings."),
    "BE18": N_("The phone number is not a valid Swish number."),
    "RP01": N_("The workshop's Swish number is missing; check the Swish settings."),
    "RP02": N_("Swish did not accept the message to the customer."),
    "RP03": N_("The Swish callback address must use HTTPS; check the Swish settings."),
    "RP06": N_("The customer already has an open Swish payment request; wait for it to end first."),
    "FF08": N_("Swish did not accept the payment reference."),
    "PA01": N_("Swish did not accept the request's parameters."),
    "PA02": N_("Swish did not accept the amount."),
    "AM02": N_("The amount is too large for Swish."),
    "AM03": N_("Swish only takes payments in SEK."),
    "AM04": N_("The customer's account has insufficient funds."),
    "AM06": N_("The amount is below the Swish minimum."),
    "RF07": N_("The customer's bank declined the payment."),
    "BANKIDCL": N_("The customer cancelled the BankID signing."),
    "FF10": N_("The bank's system had an error."),
    "TM01": N_("The customer did not answer in time."),
    "DS24": N_(
        "Swish timed out waiting for the bank: ask the customer whether the money left their "
        "account before sending a new request."
    ),
    "VR01": N_("The customer does not meet the age limit."),
    "VR02": N_("The number is not enrolled in Swish with the customer's personal number."),
    "RF02": N_("Swish cannot refund: the payment was not found or is more than 13 months old."),
    "RF03": N_("Swish cannot refund: the workshop's Swish number does not match the payment."),
    "RF08": N_("Swish cannot refund more than was paid and not yet refunded."),
    "RP07": N_("The Swish request can no longer be cancelled."),
}


def instruction_id(key: str) -> str:
    """32 uppercase hex digits, always the same for the same key."""
    return uuid.uuid5(NAMESPACE, key).hex.upper()


def refund_id(payment_id: str, slot: int) -> str:
    return uuid.uuid5(NAMESPACE, f"{payment_id}/refund/{slot}").hex.upper()


def short_reference(text: str, limit: int = 35) -> str:
    """Swish references allow a-z A-Z 0-9 - _ . + * / (1-35); others are dropped."""
    cleaned = re.sub(r"[^a-zA-Z0-9\-_.+*/]", "", text)[:limit]
    return cleaned or hashlib.sha256(text.encode()).hexdigest()[:limit]


def customer_message(text: str) -> str:
    """What Swish shows the payer: at most 50 characters of a restricted alphabet."""
    return re.sub(r"[^a-zA-Z0-9åäöÅÄÖéÉüÜ :;.,?!()\"'+/&-]", "", text)[:50].strip()


def error_message(code: str, fallback: str = "") -> str:
    if code in ERRORS:
        return _(ERRORS[code])
    return _("Swish error {code}: {message}").format(code=code, message=fallback)


class SwishProvider:
    name = "swish"
    idempotent_create = True  # the same key never makes a second payment
    capabilities = frozenset({Capability.RECEIVE, Capability.REFUND, Capability.PUSH})

    def __init__(self, settings: Settings) -> None:
        cfg = settings.swish
        self._payee = cfg.payee_alias
        self._callback_url = cfg.callback_url
        cert = (cfg.cert_file, cfg.key_file) if cfg.cert_file and cfg.key_file else None
        # callback_secret keys the HMAC; without it, the client key (a merchant secret) does.
        secret = SANDBOX_CALLBACK_SECRET.encode()
        try:
            if cfg.callback_secret.get_secret_value():
                secret = cfg.callback_secret.get_secret_value().encode()
            elif cfg.key_file:
                with open(cfg.key_file, "rb") as key_file:
                    secret = hashlib.sha256(key_file.read()).digest()
            self._http = http.make_client(
                settings.provider_url("swish"),
                settings.http_timeout_seconds,
                cert=cert,
                verify=cfg.ca_file or True,
            )
        except OSError as e:  # a missing or unreadable certificate, key or CA file
            raise ConfigError(
                _("The Swish certificate settings cannot be used: {error}").format(
                    error=e.strerror or type(e).__name__
                )
            ) from None
        self._callback_secret = secret

    def close(self) -> None:
        self._http.close()

    def callback_identifier(self, payment_id: str) -> str:
        return (
            hmac.new(self._callback_secret, payment_id.encode(), hashlib.sha256)
            .hexdigest()[:32]
            .upper()
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = http.send(self._http, LABEL, method, path, **kwargs)
        http.refuse_credentials(response, LABEL)
        return response

    def _refusal(self, response: httpx.Response) -> ProviderRefused:
        errors = http.read_json(response, LABEL) if response.content else []
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            code = str(errors[0].get("errorCode", ""))
            return ProviderRefused(
                error_message(code, str(errors[0].get("errorMessage", ""))), code
            )
        return ProviderRefused(
            _("{provider} refused the request (HTTP {status}).").format(
                provider=LABEL, status=response.status_code
            ),
            str(response.status_code),
        )

    # ---------------------------------------------------------------- payment requests

    def create(self, request: PaymentRequest) -> ProviderStatus:
        if request.amount.currency != "SEK":
            raise ProviderRefused(_(ERRORS["AM03"]), "AM03")
        if not request.phone:
            raise ProviderRefused(_("Swish needs the customer's mobile number."), "phone")
        payment_id = instruction_id(request.idempotency_key)
        body = {
            "payeePaymentReference": short_reference(request.reference),
            "callbackUrl": self._callback_url,
            "callbackIdentifier": self.callback_identifier(payment_id),
            "payerAlias": "".join(c for c in request.phone if c.isdigit()),
            "payeeAlias": self._payee,
            "amount": request.amount.plain(),
            "currency": "SEK",
            "message": customer_message(request.message or request.reference),
        }
        response = self._send("PUT", f"/api/v2/paymentrequests/{payment_id}", json=body)
        if response.status_code == 201:
            return ProviderStatus(payment_id, P.SENT, request.amount)
        refusal = self._refusal(response)
        if refusal.code == "RP09":  # our earlier attempt got through: this is that request
            return self.status(payment_id)
        raise refusal

    def lookup(self, request: PaymentRequest) -> ProviderStatus | None:
        payment_id = instruction_id(request.idempotency_key)
        response = self._send("GET", f"/api/v1/paymentrequests/{payment_id}")
        if response.status_code == 404:
            return None
        return self._status_of(response)

    def status(self, provider_ref: str) -> ProviderStatus:
        return self._status_of(self._send("GET", f"/api/v1/paymentrequests/{provider_ref}"))

    def _status_of(self, response: httpx.Response) -> ProviderStatus:
        if response.status_code != 200:
            raise self._refusal(response)
        return self._to_status(http.read_json(response, LABEL))

    def _to_status(self, payment: dict[str, Any]) -> ProviderStatus:
        try:
            payment_id = str(payment["id"])
            amount = Money(http.minor_units(payment["amount"]), str(payment["currency"]))
            status = str(payment["status"])
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable(
                _("{provider} sent an answer that could not be read.").format(provider=LABEL)
            ) from None
        code = str(payment.get("errorCode") or "")
        reason = None
        state = {"CREATED": P.SENT, "PAID": P.PAID, "CANCELLED": P.CANCELLED}.get(status, P.FAILED)
        if status == "DECLINED":
            state, reason = P.DECLINED, error_message(code) if code else _("The customer declined.")
        elif status == "ERROR":
            state = P.EXPIRED if code == "TM01" else P.FAILED
            reason = error_message(code, str(payment.get("errorMessage") or ""))
        captured = refunded = 0
        paid_at = None
        if status == "PAID":
            captured = amount.minor
            refunded = self._refunded(payment_id)
            paid_at = datetime.fromisoformat(str(payment["datePaid"]).replace("Z", "+00:00"))
            if refunded:
                state = P.REFUNDED if refunded >= captured else P.PARTIALLY_REFUNDED
        return ProviderStatus(
            provider_ref=payment_id,
            state=state,
            amount=amount,
            authorized_minor=captured,
            captured_minor=captured,
            refunded_minor=refunded,
            paid_at=paid_at,
            method="SWISH" if status == "PAID" else None,
            reason=reason,
            raw=payment,
        )

    def cancel(self, provider_ref: str, idempotency_key: str) -> ProviderStatus:
        response = self._send(
            "PATCH",
            f"/api/v1/paymentrequests/{provider_ref}",
            content=json.dumps([{"op": "replace", "path": "/status", "value": "cancelled"}]),
            headers={"Content-Type": "application/json-patch+json"},
        )
        return self._status_of(response)

    def capture(self, provider_ref: str, amount: Money, idempotency_key: str) -> ProviderStatus:
        raise ProviderRefused(_("Swish does not reserve payments; there is nothing to capture."))

    # ---------------------------------------------------------------- refunds

    def _refund_slots(self, payment_id: str) -> list[tuple[str, dict[str, Any] | None]]:
        """Refund slots in order, up to and including the first empty one (None)."""
        slots: list[tuple[str, dict[str, Any] | None]] = []
        for slot in range(1, MAX_REFUNDS + 1):
            rid = refund_id(payment_id, slot)
            response = self._send("GET", f"/api/v1/refunds/{rid}")
            if response.status_code == 404:
                slots.append((rid, None))
                break
            if response.status_code != 200:
                raise self._refusal(response)
            slots.append((rid, http.read_json(response, LABEL)))
        return slots

    def _refunded(self, payment_id: str) -> int:
        return sum(
            http.minor_units(r["amount"])
            for _rid, r in self._refund_slots(payment_id)
            if r is not None and r.get("status") != "ERROR"
        )

    def refund(
        self,
        provider_ref: str,
        amount: Money,
        idempotency_key: str,
        lines: tuple[PaymentLine, ...] = (),
    ) -> ProviderStatus:
        payment = self.status(provider_ref)
        original = payment.raw.get("paymentReference")
        if payment.captured_minor == 0 or not original:
            raise ProviderRefused(_("Nothing has been paid with this Swish request."), "RF02")
        mine = short_reference(idempotency_key)
        for _attempt in range(MAX_REFUNDS):
            slots = self._refund_slots(provider_ref)
            if any(r is not None and r.get("payerPaymentReference") == mine for _i, r in slots):
                return self.status(provider_ref)  # an earlier attempt of this refund got through
            free = slots[-1][0] if slots and slots[-1][1] is None else None
            if free is None:
                raise ProviderRefused(_("Too many refunds on this Swish payment."), "RF")
            body = {
                "originalPaymentReference": original,
                "callbackUrl": f"{self._callback_url}?payment={provider_ref}",
                "callbackIdentifier": self.callback_identifier(provider_ref),
                "payerPaymentReference": mine,
                "payerAlias": self._payee,
                "amount": amount.plain(),
                "currency": amount.currency,
                "message": customer_message(_("Refund")),
            }
            response = self._send("PUT", f"/api/v2/refunds/{free}", json=body)
            if response.status_code == 201:
                return self.status(provider_ref)
            refusal = self._refusal(response)
            if refusal.code != "RP09":  # RP09: another refund took the slot; try the next
                raise refusal
        raise ProviderRefused(_("Too many refunds on this Swish payment."), "RF")

    # ---------------------------------------------------------------- callbacks

    def verify_callback(
        self, path: str, headers: dict[str, str], body: bytes, now: datetime
    ) -> CallbackEvent:
        """The callbackIdentifier header must be the one derived for this payment."""
        try:
            payload = json.loads(body)
            payment_id = parse_qs(urlsplit(path).query).get("payment", [str(payload["id"])])[0]
        except (ValueError, KeyError, TypeError):
            raise CallbackRejected(_("The Swish callback's body cannot be read.")) from None
        sent = {k.lower(): v for k, v in headers.items()}.get("callbackidentifier", "")
        if not hmac.compare_digest(sent, self.callback_identifier(payment_id)):
            raise CallbackRejected(_("The Swish callback's identifier is wrong."))
        return CallbackEvent(payment_id, str(payload.get("status", "")), payload)
