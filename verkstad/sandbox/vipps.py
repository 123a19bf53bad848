"""Vipps MobilePay ePayment API v1, as the sandbox plays it.

Paths, headers, integer øre, MSISDN without +, the CREATED → AUTHORIZED |
ABORTED | EXPIRED | TERMINATED machine with ``aggregate`` amounts, the event
log, RFC 7807 errors (titles from the API's FAQ), idempotency per
``Idempotency-Key``, 429 at 5 modifications / 120 reads per reference and
minute, 10-minute expiry, capture window 180 days (NOK) / 14 days, refund
window 365 days, and webhooks signed with HMAC-SHA256.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from verkstad.i18n import _
from verkstad.sandbox.core import Action, Sandbox, SandboxError
from verkstad.sandbox.scenarios import Scenario, scenario_for
from verkstad.sandbox.store import Payment
from verkstad.sandbox.wire import (
    fingerprint,
    format_amount,
    json_response,
    read_json,
    replay,
    stamp,
)

PROBLEMS = "https://developer.vippsmobilepay.com/docs/APIs/epayment-api/problems#"
REFERENCE = re.compile(r"^[a-zA-Z0-9-]{8,50}$")
MSISDN = re.compile(r"^[0-9]{10,15}$")
CURRENCIES = ("NOK", "DKK", "EUR")
EXPIRY = timedelta(minutes=10)
TOKEN_LIFETIME = timedelta(hours=1)
REFUND_WINDOW = timedelta(days=365)
WEBHOOK_EVENTS = tuple(
    f"epayments.payment.{name}.v1"
    for name in (
        "created",
        "authorized",
        "aborted",
        "expired",
        "cancelled",
        "captured",
        "refunded",
        "terminated",
    )
)


def capture_window(currency: str) -> timedelta:
    return timedelta(days=180 if currency == "NOK" else 14)


def problem(status: int, title: str, detail: str) -> Response:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return json_response(
        {
            "type": PROBLEMS + slug,
            "title": title,
            "detail": detail,
            "traceId": str(uuid.uuid4()),
        },
        status,
        media="application/problem+json",
    )


class VippsEmulator:
    name = "vipps"
    methods: tuple[str, ...] = ("full", "card")

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        sandbox.emulators[self.name] = self

    def routes(self) -> list[BaseRoute]:
        base = "/epayment/v1"
        return [
            Route("/accesstoken/get", self.token, methods=["POST"]),
            Route(f"{base}/payments", self.create, methods=["POST"]),
            Route(f"{base}/payments/{{reference}}", self.get, methods=["GET"]),
            Route(f"{base}/payments/{{reference}}/events", self.events, methods=["GET"]),
            Route(f"{base}/payments/{{reference}}/capture", self.capture, methods=["POST"]),
            Route(f"{base}/payments/{{reference}}/refund", self.refund, methods=["POST"]),
            Route(f"{base}/payments/{{reference}}/cancel", self.cancel, methods=["POST"]),
            Route(f"{base}/test/payments/{{reference}}/approve", self.force, methods=["POST"]),
            Route("/webhooks/v1/webhooks", self.register_webhook, methods=["POST"]),
            Route("/webhooks/v1/webhooks", self.list_webhooks, methods=["GET"]),
            Route("/webhooks/v1/webhooks/{id}", self.delete_webhook, methods=["DELETE"]),
        ]

    # ---------------------------------------------------------------- auth

    async def token(self, request: Request) -> Response:
        cfg = self.sb.config
        h = request.headers
        if (
            h.get("client_id") != cfg.vipps_client_id
            or h.get("client_secret") != cfg.vipps_client_secret
            or h.get("ocp-apim-subscription-key") != cfg.vipps_subscription_key
        ):
            return problem(401, "Unauthorized", "Invalid client credentials.")
        token = secrets.token_urlsafe(32)
        now = self.sb.now()
        expires = now + TOKEN_LIFETIME
        self.sb.store.put(f"vipps.token.{token}", expires.isoformat())
        seconds = str(int(TOKEN_LIFETIME.total_seconds()))
        return json_response(
            {
                "token_type": "Bearer",
                "expires_in": seconds,
                "ext_expires_in": seconds,
                "expires_on": str(int(expires.timestamp())),
                "not_before": str(int(now.timestamp())),
                "resource": "00000002-0000-0000-c000-000000000000",
                "access_token": token,
            }
        )

    def _refuse_auth(self, request: Request) -> Response | None:
        cfg = self.sb.config
        h = request.headers
        if h.get("ocp-apim-subscription-key") != cfg.vipps_subscription_key:
            return problem(401, "Unauthorized", "Missing or invalid subscription key.")
        token = h.get("authorization", "").removeprefix("Bearer ").strip()
        expires = self.sb.store.get(f"vipps.token.{token}") if token else None
        if expires is None or datetime.fromisoformat(expires) <= self.sb.now():
            return problem(401, "Unauthorized", "Missing, invalid or expired access token.")
        if h.get("merchant-serial-number") != cfg.vipps_msn:
            return problem(403, "Forbidden", "The Merchant-Serial-Number is not valid.")
        return None

    def _limited(self, reference: str, write: bool) -> Response | None:
        cfg = self.sb.config
        if write:
            key, limit = f"vipps:w:{cfg.vipps_msn}:{reference}", 5
        else:
            key, limit = f"vipps:r:{cfg.vipps_subscription_key}:{reference}", 120
        if self.sb.rate_limited(key, limit, timedelta(minutes=1)):
            return problem(429, "Too Many Requests", "Rate limit exceeded.")
        return None

    # ---------------------------------------------------------------- create

    async def create(self, request: Request) -> Response:
        refused = self._refuse_auth(request)
        if refused:
            return refused
        body = await read_json(request)
        if body is None or not isinstance(body, dict):
            return problem(400, "Bad Request", "The request body is not valid JSON.")
        key = request.headers.get("idempotency-key", "")
        if not key or len(key) > 50:
            return problem(
                400, "Missing required parameter", "The parameter `Idempotency-Key` is required."
            )
        reference = str(body.get("reference", ""))
        limited = self._limited(reference, write=True)
        if limited:
            return limited
        scope = f"vipps:{self.sb.config.vipps_msn}"
        request_hash = f"create:{reference}:{fingerprint(body)}"
        saved = self.sb.store.saved_response(scope, key)
        if saved is not None:
            if saved.request_hash == request_hash:
                return replay(saved)
            return problem(409, "Idempotency error", f"Idempotency-Key `{key}` already exists.")
        error = self._validate(body)
        if error:
            return error
        if self.sb.store.payment(self.name, reference):
            return problem(409, "Idempotency error", f"Reference `{reference}` already exists.")
        now = self.sb.now()
        phone = str(body["customer"]["phoneNumber"])
        metadata = body.get("metadata") or {}
        expires_at = body.get("expiresAt")
        p = Payment(
            provider=self.name,
            id=reference,
            merchant_ref=reference,
            state="CREATED",
            live=True,
            created_at=now,
            human_ref=str(metadata.get("verkstadReference", "")),
            phone=phone,
            doc={
                "amount": body["amount"],
                "state": "CREATED",
                "aggregate": {k: 0 for k in ("authorized", "captured", "refunded", "cancelled")},
                "paymentMethod": {"type": body.get("paymentMethod", {}).get("type", "WALLET")},
                "pspReference": str(secrets.randbelow(10**10)).zfill(10),
                "metadata": metadata,
                "description": body.get("paymentDescription", ""),
                "expires_at": expires_at or (now + EXPIRY).isoformat(),
                "authorized_at": None,
            },
        )
        self._event(p, "CREATED", int(body["amount"]["value"]), key)
        self.save(p)
        response = json_response({"reference": reference}, 201)
        self.sb.remember(scope, key, request_hash, response)
        self.sb.text(
            phone,
            self.name,
            "push",
            _("Vipps: pay {amount} to {merchant}? {description}").format(
                amount=format_amount(int(body["amount"]["value"]), body["amount"]["currency"]),
                merchant=self.sb.config.vipps_msn,
                description=p.doc["description"],
            ),
            self.sb.link(f"/phone?number={phone}"),
            p,
        )
        self.sb.after_create(p)
        return response

    def _validate(self, body: dict[str, Any]) -> Response | None:
        amount = body.get("amount") or {}
        value = amount.get("value")
        if amount.get("currency") not in CURRENCIES:
            return problem(400, "Bad Request", "The currency must be one of NOK, DKK, EUR.")
        if type(value) is not int:
            return problem(
                400,
                "Amount invalid",
                "The amount is invalid. Amounts must be integers, no decimals.",
            )
        if value < 100:
            return problem(400, "Amount too small", "The amount is too small.")
        if value > 65_000_000:
            return problem(400, "Amount invalid", "The amount is too large.")
        if not REFERENCE.match(str(body.get("reference", ""))):
            return problem(400, "Bad Request", "The reference must match ^[a-zA-Z0-9-]{8,50}$.")
        if body.get("userFlow") not in ("PUSH_MESSAGE", "NATIVE_REDIRECT", "WEB_REDIRECT", "QR"):
            return problem(
                400, "Missing required parameter", "The parameter `userFlow` is required."
            )
        phone = str((body.get("customer") or {}).get("phoneNumber", ""))
        if body["userFlow"] == "PUSH_MESSAGE" and not phone:
            return problem(
                400, "Missing required parameter", "The parameter `customer` is required."
            )
        scenario = scenario_for(phone)
        if not MSISDN.match(phone) or scenario == Scenario.INVALID_NUMBER:
            return problem(400, "Invalid phone number", "The phone number is invalid.")
        if scenario == Scenario.NOT_REGISTERED:
            return problem(
                400,
                "Customer not found",
                "The phone number does not belong to a Vipps or MobilePay user, "
                "or the user cannot pay businesses.",
            )
        description = body.get("paymentDescription")
        if description is not None and not 3 <= len(str(description)) <= 100:
            return problem(400, "Bad Request", "paymentDescription must be 3-100 characters.")
        if len(body.get("metadata") or {}) > 5:
            return problem(400, "Bad Request", "metadata can hold at most 5 pairs.")
        if body.get("expiresAt"):
            return self._validate_expiry(body)
        return None

    def _validate_expiry(self, body: dict[str, Any]) -> Response | None:
        if body["userFlow"] not in ("PUSH_MESSAGE", "QR"):
            return problem(
                400,
                "ExpiresAt not allowed",
                f"Cannot set `ExpiresAt` for flow `{body['userFlow']}`.",
            )
        try:
            expires = datetime.fromisoformat(str(body["expiresAt"]).replace("Z", "+00:00"))
        except ValueError:
            expires = None
        now = self.sb.now()
        if (
            expires is None
            or expires.tzinfo is None
            or not now + EXPIRY < expires < now + timedelta(days=28)
            or not body.get("receipt")
        ):
            return problem(
                400,
                "Expiration date invalid",
                f"The expiration date `{body['expiresAt']}` is invalid.",
            )
        return None

    # ---------------------------------------------------------------- reads

    async def get(self, request: Request) -> Response:
        p, refused = self._load(request, write=False)
        if refused:
            return refused
        assert p is not None
        return json_response(self.render(p))

    async def events(self, request: Request) -> Response:
        p, refused = self._load(request, write=False)
        if refused:
            return refused
        assert p is not None
        return json_response(self.sb.store.events(self.name, p.id))

    def _load(self, request: Request, write: bool) -> tuple[Payment | None, Response | None]:
        refused = self._refuse_auth(request)
        if refused:
            return None, refused
        reference = request.path_params["reference"]
        limited = self._limited(reference, write)
        if limited:
            return None, limited
        p = self.sb.store.payment(self.name, reference)
        if p is None:
            return None, problem(
                404,
                "Reference not found",
                f"The reference `{reference}` does not exist for MSN {self.sb.config.vipps_msn}",
            )
        return p, None

    def render(self, p: Payment) -> dict[str, Any]:
        currency = p.doc["amount"]["currency"]
        agg = p.doc["aggregate"]
        return {
            "aggregate": {f"{k}Amount": {"currency": currency, "value": v} for k, v in agg.items()},
            "amount": p.doc["amount"],
            "state": p.state,
            "paymentMethod": p.doc["paymentMethod"],
            "profile": {},
            "pspReference": p.doc["pspReference"],
            "reference": p.id,
            "metadata": p.doc["metadata"],
        }

    def _modification_response(self, p: Payment) -> dict[str, Any]:
        r = self.render(p)
        return {k: r[k] for k in ("amount", "state", "aggregate", "pspReference", "reference")}

    # ---------------------------------------------------------------- modifications

    async def capture(self, request: Request) -> Response:
        return await self._modify(request, "capture")

    async def refund(self, request: Request) -> Response:
        return await self._modify(request, "refund")

    async def cancel(self, request: Request) -> Response:
        return await self._modify(request, "cancel")

    async def _modify(self, request: Request, op: str) -> Response:
        p, refused = self._load(request, write=True)
        if refused:
            return refused
        assert p is not None
        key = request.headers.get("idempotency-key", "")
        if not key or len(key) > 50:
            return problem(
                400, "Missing required parameter", "The parameter `Idempotency-Key` is required."
            )
        raw = await request.body()
        body = await read_json(request) if raw else {}
        if body is None:
            return problem(400, "Bad Request", "The request body is not valid JSON.")
        scope = f"vipps:{self.sb.config.vipps_msn}"
        request_hash = f"{op}:{p.id}:{fingerprint(body)}"
        saved = self.sb.store.saved_response(scope, key)
        if saved is not None:
            if saved.request_hash == request_hash:
                return replay(saved)
            if saved.request_hash.startswith(f"{op}:{p.id}:") and op != "cancel":
                title = f"{op.capitalize()} idempotency conflict"
                return problem(409, title, "The request in an idempotent retry must be identical.")
            return problem(409, "Idempotency error", f"Idempotency-Key `{key}` already exists.")
        value = None
        if op != "cancel":
            amount = body.get("modificationAmount") or {}
            value = amount.get("value")
            if (
                type(value) is not int
                or value <= 0
                or amount.get("currency") != p.doc["amount"]["currency"]
            ):
                return problem(
                    400,
                    "Amount invalid",
                    "modificationAmount must be a positive integer in the payment's currency.",
                )
        error = {"capture": self._do_capture, "refund": self._do_refund, "cancel": self._do_cancel}[
            op
        ](p, value or 0, key)
        if error:
            return error
        self.save(p)
        response = json_response(self._modification_response(p))
        self.sb.remember(scope, key, request_hash, response)
        return response

    def _do_capture(self, p: Payment, value: int, key: str) -> Response | None:
        agg = p.doc["aggregate"]
        ref = p.id
        if p.state == "CREATED":
            return problem(
                400,
                "Cannot capture before reservation",
                "The amount you tried to capture is not reserved.",
            )
        if p.state != "AUTHORIZED":
            return problem(
                400,
                "Payment cannot be captured",
                f"Reference `{ref}` cannot be captured. Invalid state: `{p.state}`.",
            )
        remaining = agg["authorized"] - agg["cancelled"] - agg["captured"]
        if agg["cancelled"] and remaining == 0:
            if p.extra.get("capture_window_passed"):
                return problem(
                    400,
                    "Capture period expired",
                    "Payments can only be captured up to 180 days after reservation.",
                )
            return problem(
                400,
                "Cannot capture a cancelled payment",
                "Cannot capture a payment that has been cancelled.",
            )
        if value > remaining:
            return problem(
                400,
                "Capture amount too high",
                "The total capture amount exceeds the reserved amount.",
            )
        agg["captured"] += value
        self._event(p, "CAPTURED", value, key)
        self.sb.money_moved(
            p, "CAPTURE", value, p.doc["amount"]["currency"], psp_reference=p.doc["pspReference"]
        )
        return None

    def _do_refund(self, p: Payment, value: int, key: str) -> Response | None:
        agg = p.doc["aggregate"]
        if p.state != "AUTHORIZED":
            return problem(
                400,
                "Attempted refund before reservation",
                "Cannot refund a payment that is not reserved.",
            )
        authorized_at = datetime.fromisoformat(p.doc["authorized_at"])
        if self.sb.now() > authorized_at + REFUND_WINDOW:
            return problem(
                400,
                "Refund period expired",
                "Payments can only be refunded within 365 days of the reservation.",
            )
        if agg["captured"] and agg["refunded"] >= agg["captured"]:
            return problem(
                400,
                "Payment already refunded",
                "Cannot refund a payment that has already been refunded.",
            )
        if value > agg["captured"] - agg["refunded"]:
            return problem(
                400, "Not enough refundable", "Cannot refund more than the available amount."
            )
        agg["refunded"] += value
        self._event(p, "REFUNDED", value, key)
        self.sb.money_moved(
            p, "REFUND", value, p.doc["amount"]["currency"], psp_reference=p.doc["pspReference"]
        )
        return None

    def _do_cancel(self, p: Payment, _value: int, key: str) -> Response | None:
        agg = p.doc["aggregate"]
        if p.state == "CREATED":
            if p.extra.get("customer") == "authorizing":
                return problem(400, "Cannot cancel pending", "Cannot cancel a pending payment.")
            self._set_state(p, "TERMINATED", int(p.doc["amount"]["value"]), key)
            return None
        if p.state != "AUTHORIZED":
            return problem(
                400,
                "Payment cannot be cancelled",
                f"Reference `{p.id}` cannot be cancelled. Invalid state: `{p.state}`.",
            )
        remaining = agg["authorized"] - agg["cancelled"] - agg["captured"]
        if agg["captured"] and remaining == 0:
            return problem(
                400,
                "Cannot cancel a captured payment",
                "Cannot cancel a payment that has been captured.",
            )
        if remaining > 0:
            agg["cancelled"] += remaining
            self._event(p, "CANCELLED", remaining, key)
        return None

    # ---------------------------------------------------------------- the customer and time

    async def force(self, request: Request) -> Response:
        """The test environment's "force approve" (POST …/test/payments/{reference}/approve)."""
        p, refused = self._load(request, write=True)
        if refused:
            return refused
        assert p is not None
        try:
            self.act(p, Action.APPROVE, None)
        except SandboxError as e:
            return problem(400, "Approve failed", f"Force approve payment failed. Reason: `{e}`.")
        return Response(status_code=200)

    def act(self, p: Payment, action: Action, method: str | None) -> None:
        if p.state != "CREATED":
            raise SandboxError(
                409, _("The payment is {state}; nothing to do.").format(state=p.state)
            )
        value = int(p.doc["amount"]["value"])
        if action == Action.OPEN:
            p.extra["customer"] = "opened"
        elif action == Action.START:
            p.extra["customer"] = "authorizing"
        elif action == Action.APPROVE:
            if self.sb.first_attempt_fails(p):
                p.extra["customer"] = "authorizing"
                p.extra["failed_attempts"] = p.extra.get("failed_attempts", 0) + 1
                self.sb.text(
                    p.phone,
                    self.name,
                    "push",
                    _("Vipps: the payment failed; try another card."),
                    None,
                    p,
                )
            else:
                p.doc["aggregate"]["authorized"] = value
                p.doc["authorized_at"] = self.sb.now().isoformat()
                if method == "card":
                    p.doc["paymentMethod"] = {"type": "CARD", "cardBin": "492500"}
                self._set_state(p, "AUTHORIZED", value, "")
        elif action == Action.DECLINE:
            self._set_state(p, "ABORTED", value, "")
        elif action == Action.EXPIRE:
            self._set_state(p, "EXPIRED", value, "")
        self.save(p)

    def tick(self, p: Payment, now: datetime) -> None:
        if p.state == "CREATED" and now >= datetime.fromisoformat(p.doc["expires_at"]):
            self._set_state(p, "EXPIRED", int(p.doc["amount"]["value"]), "")
            self.save(p)
        elif p.state == "AUTHORIZED" and p.doc["authorized_at"]:
            deadline = datetime.fromisoformat(p.doc["authorized_at"]) + capture_window(
                p.doc["amount"]["currency"]
            )
            agg = p.doc["aggregate"]
            remaining = agg["authorized"] - agg["cancelled"] - agg["captured"]
            if now >= deadline and remaining > 0:
                agg["cancelled"] += remaining
                p.extra["capture_window_passed"] = True
                self._event(p, "CANCELLED", remaining, "")
                self.save(p)

    def summary(self, p: Payment) -> dict[str, Any]:
        return {
            "provider": self.name,
            "id": p.id,
            "reference": p.human_ref or p.merchant_ref,
            "state": p.state,
            "amount": format_amount(int(p.doc["amount"]["value"]), p.doc["amount"]["currency"]),
            "customer": p.extra.get("customer", ""),
        }

    # ---------------------------------------------------------------- state, events, webhooks

    def save(self, p: Payment) -> None:
        agg = p.doc["aggregate"]
        p.live = p.state == "CREATED" or (
            p.state == "AUTHORIZED" and agg["captured"] + agg["cancelled"] < agg["authorized"]
        )
        self.sb.store.save(p)

    def _set_state(self, p: Payment, state: str, value: int, key: str) -> None:
        p.state = state
        p.doc["state"] = state
        self._event(p, state, value, key)

    def _event(self, p: Payment, name: str, value: int, key: str) -> None:
        event = {
            "reference": p.id,
            "pspReference": p.doc["pspReference"],
            "name": name,
            "amount": {"currency": p.doc["amount"]["currency"], "value": value},
            "timestamp": stamp(self.sb.now()),
            "idempotencyKey": key or None,
            "success": True,
        }
        self.sb.store.add_event(self.name, p.id, event)
        payload = {"msn": self.sb.config.vipps_msn, **event}
        event_type = f"epayments.payment.{name.lower()}.v1"
        self.sb.webhooks.send(
            self.name,
            p.id,
            self.sb.webhooks.default_url(self.name),
            payload,
            "vipps",
            self.sb.config.vipps_webhook_secret,
        )
        for hook in self.sb.store.get("vipps.webhooks", []):
            if event_type in hook["events"]:
                self.sb.webhooks.send(
                    self.name, p.id, hook["url"], payload, "vipps", hook["secret"]
                )

    # ---------------------------------------------------------------- Webhooks API

    async def register_webhook(self, request: Request) -> Response:
        refused = self._refuse_auth(request)
        if refused:
            return refused
        body = await read_json(request)
        if not isinstance(body, dict) or not body.get("url") or not body.get("events"):
            return problem(400, "Bad Request", "url and events are required.")
        unknown = [e for e in body["events"] if e not in WEBHOOK_EVENTS]
        if unknown:
            return problem(400, "Bad Request", f"Unknown events: {', '.join(unknown)}")
        hooks = self.sb.store.get("vipps.webhooks", [])
        hook = {
            "id": str(uuid.uuid4()),
            "url": body["url"],
            "events": body["events"],
            "secret": secrets.token_urlsafe(32),
        }
        self.sb.store.put("vipps.webhooks", [*hooks, hook])
        return json_response({"id": hook["id"], "secret": hook["secret"]}, 201)

    async def list_webhooks(self, request: Request) -> Response:
        refused = self._refuse_auth(request)
        if refused:
            return refused
        hooks = self.sb.store.get("vipps.webhooks", [])
        return json_response(
            {"webhooks": [{k: h[k] for k in ("id", "url", "events")} for h in hooks]}
        )

    async def delete_webhook(self, request: Request) -> Response:
        refused = self._refuse_auth(request)
        if refused:
            return refused
        hooks = self.sb.store.get("vipps.webhooks", [])
        kept = [h for h in hooks if h["id"] != request.path_params["id"]]
        self.sb.store.put("vipps.webhooks", kept)
        return Response(status_code=204 if len(kept) < len(hooks) else 404)
