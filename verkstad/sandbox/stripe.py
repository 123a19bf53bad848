"""Stripe Checkout Sessions, PaymentIntents, charges and refunds, as played here.

Form-encoded requests with bracket notation, minor units, lowercase
currencies, ``Authorization: Bearer sk_…``, ``Idempotency-Key`` (same key and
parameters → the saved response, 500s included; other parameters → an
``idempotency_error``; validation failures are not saved; kept 24 h),
``open / complete / expired`` with ``payment_status``, ``expires_at`` between
30 minutes and 24 hours (default 24 h), ``/expire``, refunds up to the
captured amount, 25 requests per second (test mode), and events signed with
``Stripe-Signature``. Stripe does not text the customer: the link goes out
through verkstad's SMS gateway, and the phone that receives it plays the
scenario of its number.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from verkstad.i18n import _
from verkstad.sandbox.core import Action, Sandbox, SandboxError
from verkstad.sandbox.store import Payment
from verkstad.sandbox.wire import (
    fingerprint,
    format_amount,
    json_response,
    parse_form,
    replay,
)

API_VERSION = "2024-06-20"
CURRENCIES = {"sek": 300, "nok": 300, "dkk": 250, "eur": 50}  # minimum charge amounts
DEFAULT_EXPIRY = timedelta(hours=24)
IDEMPOTENCY_RETENTION = timedelta(hours=24)
CHECKOUT_PATH = "/checkout/c/pay/"


def error(
    status: int, message: str, type_: str = "invalid_request_error", **extra: Any
) -> Response:
    return json_response({"error": {"type": type_, "message": message, **extra}}, status)


def rate_limit_error() -> Response:
    return error(
        429,
        "Too many requests hit the API too quickly. We recommend an exponential backoff of "
        "your requests.",
        code="rate_limit",
    )


def server_error() -> Response:
    return error(500, "An unknown error occurred", "api_error")


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def unix(at: datetime) -> int:
    return int(at.timestamp())


class StripeEmulator:
    name = "stripe"
    methods: tuple[str, ...] = ("card",)

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        sandbox.emulators[self.name] = self

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/checkout/sessions", self.create, methods=["POST"]),
            Route("/v1/checkout/sessions", self.list_sessions, methods=["GET"]),
            Route("/v1/checkout/sessions/{id}", self.get, methods=["GET"]),
            Route("/v1/checkout/sessions/{id}/expire", self.expire, methods=["POST"]),
            Route("/v1/payment_intents/{id}", self.get_intent, methods=["GET"]),
            Route("/v1/charges", self.list_charges, methods=["GET"]),
            Route("/v1/refunds", self.create_refund, methods=["POST"]),
            Route("/v1/refunds", self.list_refunds, methods=["GET"]),
            Route("/v1/refunds/{id}", self.get_refund, methods=["GET"]),
        ]

    # ---------------------------------------------------------------- plumbing

    async def _begin(self, request: Request) -> tuple[dict[str, Any], str | None, Response | None]:
        """Auth, rate limit, parameters and a saved idempotent response, in Stripe's order."""
        if request.headers.get("authorization") != f"Bearer {self.sb.config.stripe_api_key}":
            return {}, None, error(401, "Invalid API Key provided.")
        if self.sb.rate_limited("stripe", 25, timedelta(seconds=1)):
            return {}, None, rate_limit_error()
        if request.method == "GET":
            return parse_form(request.query_params.multi_items()), None, None
        form = await request.form()
        params = parse_form([(k, str(v)) for k, v in form.multi_items()])
        key = request.headers.get("idempotency-key")
        if not key:
            return params, None, None
        if len(key) > 255:
            return params, None, error(400, "Idempotency keys may be at most 255 characters.")
        self.sb.store.forget_responses_before(self.name, self.sb.now() - IDEMPOTENCY_RETENTION)
        saved = self.sb.store.saved_response(self.name, key)
        request_hash = self.request_hash(request.method, request.url.path, params)
        if saved is None:
            return params, key, None
        if saved.request_hash == request_hash:
            replayed = replay(saved)
            replayed.headers["Idempotent-Replayed"] = "true"
            return params, key, replayed
        return (
            params,
            key,
            error(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                "idempotency_error",
            ),
        )

    @staticmethod
    def request_hash(method: str, path: str, params: dict[str, Any]) -> str:
        return fingerprint(method, path, params)

    def _finish(
        self, request: Request, params: dict[str, Any], key: str | None, response: Response
    ) -> Response:
        if key and 200 <= response.status_code < 300:
            request_hash = self.request_hash(request.method, request.url.path, params)
            self.sb.remember(self.name, key, request_hash, response)
        return response

    # ---------------------------------------------------------------- sessions

    async def create(self, request: Request) -> Response:
        params, key, early = await self._begin(request)
        if early:
            return early
        now = self.sb.now()
        try:
            session = self._new_session(params, now)
        except ValueError as e:
            return error(400, str(e))
        p = Payment(
            provider=self.name,
            id=session["id"],
            merchant_ref=session["client_reference_id"] or session["id"],
            state="open",
            live=True,
            created_at=now,
            human_ref=str(session["metadata"].get("verkstadReference", "")),
            doc={"session": session, "intent": None, "charges": [], "refunds": []},
        )
        self.save(p)
        return self._finish(request, params, key, json_response(self.render(p)))

    def _new_session(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        if params.get("mode") != "payment":
            raise ValueError("Missing required param: mode (only `payment` is supported here).")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise ValueError("You must specify `line_items` in `payment` mode.")
        currency, total = None, 0
        for item in items:
            price = item.get("price_data") or {}
            if not price.get("product_data", {}).get("name"):
                raise ValueError(
                    "Missing required param: line_items[0][price_data][product_data][name]."
                )
            if price.get("currency") not in CURRENCIES or (
                currency and price["currency"] != currency
            ):
                raise ValueError(
                    "Invalid currency: use one lowercase currency (sek, nok, dkk, eur)."
                )
            currency = price["currency"]
            try:
                total += int(price["unit_amount"]) * int(item.get("quantity", "1"))
            except (KeyError, ValueError):
                raise ValueError(
                    "Invalid integer: unit_amount and quantity are minor units."
                ) from None
        assert currency is not None
        if total < CURRENCIES[currency]:
            raise ValueError(
                f"The Checkout Session's total amount due must add up to at least "
                f"{CURRENCIES[currency]} {currency} minor units."
            )
        expires_at = int(params.get("expires_at") or unix(now + DEFAULT_EXPIRY))
        if not unix(now + timedelta(minutes=30)) <= expires_at <= unix(now + DEFAULT_EXPIRY):
            raise ValueError(
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation."
            )
        metadata = params.get("metadata") or {}
        if len(metadata) > 50:
            raise ValueError("Invalid metadata: at most 50 keys.")
        session_id = new_id("cs")
        return {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "client_reference_id": params.get("client_reference_id"),
            "created": unix(now),
            "currency": currency,
            "customer_email": params.get("customer_email"),
            "expires_at": expires_at,
            "livemode": False,
            "locale": params.get("locale"),
            "metadata": metadata,
            "mode": "payment",
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params.get("success_url"),
            "url": self.sb.link(f"{CHECKOUT_PATH}{session_id}"),
        }

    async def get(self, request: Request) -> Response:
        params, _key, early = await self._begin(request)
        if early:
            return early
        p = self.sb.store.payment(self.name, request.path_params["id"])
        if p is None:
            return self._missing("checkout.session", request.path_params["id"])
        return json_response(self.render(p, params.get("expand") or []))

    async def list_sessions(self, request: Request) -> Response:
        params, _key, early = await self._begin(request)
        if early:
            return early
        sessions = sorted(
            (p for p in self.sb.store.payments_of(self.name)),
            key=lambda p: (p.doc["session"]["created"], p.id),
            reverse=True,
        )
        created = params.get("created") or {}
        if "gte" in created:
            sessions = [p for p in sessions if p.doc["session"]["created"] >= int(created["gte"])]
        if params.get("payment_intent"):
            sessions = [
                p for p in sessions if (p.doc["intent"] or {}).get("id") == params["payment_intent"]
            ]
        if params.get("starting_after"):
            ids = [p.id for p in sessions]
            if params["starting_after"] in ids:
                sessions = sessions[ids.index(params["starting_after"]) + 1 :]
        limit = max(1, min(100, int(params.get("limit") or 10)))
        return json_response(
            {
                "object": "list",
                "data": [self.render(p) for p in sessions[:limit]],
                "has_more": len(sessions) > limit,
                "url": "/v1/checkout/sessions",
            }
        )

    async def expire(self, request: Request) -> Response:
        params, key, early = await self._begin(request)
        if early:
            return early
        p = self.sb.store.payment(self.name, request.path_params["id"])
        if p is None:
            return self._missing("checkout.session", request.path_params["id"])
        if p.state != "open":
            return error(
                400,
                'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
                f'Session has a status of "{p.state}".',
            )
        self._end(p, "expired")
        return self._finish(request, params, key, json_response(self.render(p)))

    def render(self, p: Payment, expand: list[str] | None = None) -> dict[str, Any]:
        session = dict(p.doc["session"])
        session["status"] = p.state
        session["url"] = session["url"] if p.state == "open" else None
        intent = p.doc["intent"]
        session["payment_intent"] = intent["id"] if intent else None
        expand = expand or []
        if intent and "payment_intent" in expand:
            session["payment_intent"] = self.render_intent(
                p, "payment_intent.latest_charge" in expand
            )
        return session

    def render_intent(self, p: Payment, with_charge: bool = False) -> dict[str, Any]:
        intent = dict(p.doc["intent"])
        if with_charge and intent["latest_charge"]:
            intent["latest_charge"] = self._charge(p, intent["latest_charge"])
        return intent

    def _charge(self, p: Payment, charge_id: str) -> dict[str, Any]:
        return next(c for c in p.doc["charges"] if c["id"] == charge_id)

    def _missing(self, kind: str, object_id: str) -> Response:
        return error(404, f"No such {kind}: '{object_id}'", code="resource_missing")

    async def get_intent(self, request: Request) -> Response:
        params, _key, early = await self._begin(request)
        if early:
            return early
        p = self._by_intent(request.path_params["id"])
        if p is None:
            return self._missing("payment_intent", request.path_params["id"])
        return json_response(self.render_intent(p, "latest_charge" in (params.get("expand") or [])))

    async def list_charges(self, request: Request) -> Response:
        params, _key, early = await self._begin(request)
        if early:
            return early
        p = self._by_intent(str(params.get("payment_intent") or ""))
        charges = list(reversed(p.doc["charges"])) if p else []
        return json_response(
            {"object": "list", "data": charges, "has_more": False, "url": "/v1/charges"}
        )

    def _by_intent(self, intent_id: str) -> Payment | None:
        for p in self.sb.store.payments_of(self.name):
            if intent_id and (p.doc["intent"] or {}).get("id") == intent_id:
                return p
        return None

    # ---------------------------------------------------------------- refunds

    async def create_refund(self, request: Request) -> Response:
        params, key, early = await self._begin(request)
        if early:
            return early
        p = self._by_intent(str(params.get("payment_intent") or ""))
        if p is None and params.get("charge"):
            p = next(
                (
                    q
                    for q in self.sb.store.payments_of(self.name)
                    if any(c["id"] == params["charge"] for c in q.doc["charges"])
                ),
                None,
            )
        if p is None:
            return error(
                400, "Missing required param: payment_intent or charge.", param="payment_intent"
            )
        intent = p.doc["intent"]
        if intent["status"] != "succeeded":
            return error(
                400,
                "This PaymentIntent does not have a successful charge to refund.",
                code="charge_not_refundable",
            )
        charge = self._charge(p, intent["latest_charge"])
        left = charge["amount_captured"] - charge["amount_refunded"]
        if left == 0:
            return error(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        try:
            amount = int(params.get("amount") or left)
        except ValueError:
            return error(400, "Invalid integer: amount", param="amount")
        if amount <= 0 or amount > left:
            return error(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                code="amount_too_large",
                param="amount",
            )
        now = self.sb.now()
        refund = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "created": unix(now),
            "currency": charge["currency"],
            "metadata": params.get("metadata") or {},
            "payment_intent": intent["id"],
            "reason": params.get("reason"),
            "status": "succeeded",
        }
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        p.doc["refunds"].append(refund)
        self.save(p)
        self.sb.money_moved(p, "REFUND", amount, charge["currency"].upper(), stripe_id=refund["id"])
        self._event(p, "charge.refunded", charge)
        return self._finish(request, params, key, json_response(refund))

    async def list_refunds(self, request: Request) -> Response:
        """``GET /v1/refunds?payment_intent=`` (or ``charge=``): newest first."""
        params, _key, early = await self._begin(request)
        if early:
            return early
        p = self._by_intent(str(params.get("payment_intent") or ""))
        refunds = list(reversed(p.doc["refunds"])) if p else []
        if params.get("charge"):
            refunds = [
                r
                for q in self.sb.store.payments_of(self.name)
                for r in reversed(q.doc["refunds"])
                if r["charge"] == params["charge"]
            ]
        return json_response(
            {"object": "list", "data": refunds, "has_more": False, "url": "/v1/refunds"}
        )

    async def get_refund(self, request: Request) -> Response:
        _params, _key, early = await self._begin(request)
        if early:
            return early
        for p in self.sb.store.payments_of(self.name):
            for refund in p.doc["refunds"]:
                if refund["id"] == request.path_params["id"]:
                    return json_response(refund)
        return self._missing("refund", request.path_params["id"])

    # ---------------------------------------------------------------- the customer and time

    def act(self, p: Payment, action: Action, method: str | None) -> None:
        if p.state != "open":
            raise SandboxError(
                409, _("The payment is {state}; nothing to do.").format(state=p.state)
            )
        if action == Action.OPEN:
            p.extra["customer"] = "opened"
        elif action == Action.START:
            p.extra["customer"] = "entering details"
            self._intent(p)["status"] = "requires_action"
        elif action == Action.APPROVE:
            if self.sb.first_attempt_fails(p):
                self._attempt(p, succeeded=False)
            else:
                self._attempt(p, succeeded=True)
                self._end(p, "complete")
                return
        elif action == Action.DECLINE:
            self._attempt(p, succeeded=False)
        elif action == Action.EXPIRE:
            self._end(p, "expired")
            return
        self.save(p)

    def _intent(self, p: Payment) -> dict[str, Any]:
        """The PaymentIntent Checkout creates when the customer first submits."""
        if p.doc["intent"] is None:
            session = p.doc["session"]
            p.doc["intent"] = {
                "id": new_id("pi"),
                "object": "payment_intent",
                "amount": session["amount_total"],
                "amount_received": 0,
                "currency": session["currency"],
                "created": unix(self.sb.now()),
                "latest_charge": None,
                "last_payment_error": None,
                "metadata": session["metadata"],
                "status": "requires_payment_method",
            }
        intent: dict[str, Any] = p.doc["intent"]
        return intent

    def _attempt(self, p: Payment, succeeded: bool) -> None:
        intent = self._intent(p)
        now = self.sb.now()
        charge = {
            "id": new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if succeeded else 0,
            "amount_refunded": 0,
            "balance_transaction": new_id("txn") if succeeded else None,
            "created": unix(now),
            "currency": intent["currency"],
            "failure_code": None if succeeded else "card_declined",
            "failure_message": None if succeeded else "Your card was declined.",
            "paid": succeeded,
            "payment_intent": intent["id"],
            "refunded": False,
            "status": "succeeded" if succeeded else "failed",
        }
        p.doc["charges"].append(charge)
        intent["latest_charge"] = charge["id"]
        if succeeded:
            intent.update(
                status="succeeded", amount_received=intent["amount"], last_payment_error=None
            )
            p.doc["session"]["payment_status"] = "paid"
            self.sb.money_moved(
                p, "PAYMENT", intent["amount"], intent["currency"].upper(), stripe_id=charge["id"]
            )
        else:
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
                "type": "card_error",
                "charge": charge["id"],
            }
            self._event(p, "payment_intent.payment_failed", intent)

    def tick(self, p: Payment, now: datetime) -> None:
        if p.state == "open" and unix(now) >= p.doc["session"]["expires_at"]:
            self._end(p, "expired")

    def summary(self, p: Payment) -> dict[str, Any]:
        session = p.doc["session"]
        return {
            "provider": self.name,
            "id": p.id,
            "reference": p.human_ref or p.merchant_ref,
            "state": p.state,
            "amount": format_amount(session["amount_total"], session["currency"].upper()),
            "customer": p.extra.get("customer", ""),
        }

    def save(self, p: Payment) -> None:
        p.live = p.state == "open"
        self.sb.store.save(p)

    def _end(self, p: Payment, state: str) -> None:
        p.state = state
        intent = p.doc["intent"]
        if state == "expired" and intent and intent["status"] != "succeeded":
            intent["status"] = "canceled"
        self.save(p)
        kind = "checkout.session.completed" if state == "complete" else "checkout.session.expired"
        self._event(p, kind, self.render(p))

    def _event(self, p: Payment, kind: str, obj: dict[str, Any]) -> None:
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": unix(self.sb.now()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }
        self.sb.webhooks.send(
            self.name,
            p.id,
            self.sb.webhooks.default_url(self.name),
            event,
            "stripe",
            self.sb.config.stripe_webhook_secret,
        )
