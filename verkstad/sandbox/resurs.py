"""Resurs Bank Merchant API 2.0 (the POS flow with links delivered by SMS), as played here.

OAuth2 client credentials (``/oauth2/token``, 3 599 s tokens), ``POST
/v2/payments`` with order lines in decimal major units and VAT per line,
``options.deliverLinks`` (Resurs texts the customer the link) with
``initiatedOnCustomersDevice=false``, TASK_REDIRECTION_REQUIRED → ACCEPTED |
REJECTED with ``rejectedReason``, ``timeToLiveInMinutes`` (1–43 200),
capture / cancel / refund per order lines (all that is eligible when
``orderLines`` is left out) with ``possibleActions`` and an ``actionLog``,
search by ``orderReference`` (``POST /v2/payments/search``), the customer's
task status, and unsigned JSON callbacks. There is no idempotency: the same
create twice makes two payments, as with the real API. The customer chooses
on the phone how to pay (in full, invoice, part payment, 4 instalments);
the merchant gets the full amount either way.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from verkstad.i18n import _
from verkstad.sandbox.core import Action, Sandbox, SandboxError
from verkstad.sandbox.scenarios import Scenario, scenario_for
from verkstad.sandbox.store import Payment
from verkstad.sandbox.wire import (
    format_amount,
    json_response,
    major,
    minor_of,
    read_json,
    stamp,
)

TOKEN_LIFETIME = timedelta(seconds=3599)
DEFAULT_TTL_MINUTES = 24 * 60
ORDER_REFERENCE = re.compile(r"^[\w-]{1,32}$")
LINE_TYPES = {"NORMAL", "DISCOUNT", "SHIPPING", "FEE", "PHYSICAL_GOODS", "DIGITAL_GOODS"}
PAY_PAGE = "/resurs/pay/"

# The customer's choices on the phone: (payment method name, type, what verkstad sees).
CHOICES = {
    "full": ("Betala hela beloppet", "CARD", "CARD"),
    "invoice": ("Faktura", "RESURS_INVOICE", "INVOICE"),
    "part_payment": ("Delbetalning", "RESURS_PART_PAYMENT", "PART_PAYMENT"),
    "instalments": ("4 räntefria delbetalningar", "RESURS_ZERO", "INSTALMENTS"),
}
STORE_METHOD_ID = "7d5a0c5e-6a34-4b8e-9a54-000000000001"


def error(status: int, code: str, message: str) -> Response:
    return json_response(
        {"traceId": secrets.token_hex(16), "code": code, "message": message}, status
    )


class ResursEmulator:
    name = "resurs"
    methods: tuple[str, ...] = tuple(CHOICES)

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        sandbox.emulators[self.name] = self

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/oauth2/token", self.token, methods=["POST"]),
            Route("/v2/stores", self.stores, methods=["GET"]),
            Route("/v2/stores/{store}/payment_methods", self.payment_methods, methods=["GET"]),
            Route("/v2/payments", self.create, methods=["POST"]),
            Route("/v2/payments/search", self.search, methods=["POST"]),
            Route("/v2/payments/{id}", self.get, methods=["GET"]),
            Route("/v2/payments/{id}/tasks/status", self.task_status, methods=["GET"]),
            Route("/v2/payments/{id}/capture", self.capture, methods=["POST"]),
            Route("/v2/payments/{id}/refund", self.refund, methods=["POST"]),
            Route("/v2/payments/{id}/cancel", self.cancel, methods=["POST"]),
        ]

    # ---------------------------------------------------------------- auth and store

    async def token(self, request: Request) -> Response:
        form = await request.form()
        cfg = self.sb.config
        if form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type"}, 400)
        if (
            form.get("client_id") != cfg.resurs_client_id
            or form.get("client_secret") != cfg.resurs_client_secret
        ):
            return json_response({"error": "invalid_client"}, 401)
        token = secrets.token_urlsafe(32)
        self.sb.store.put(f"resurs.token.{token}", (self.sb.now() + TOKEN_LIFETIME).isoformat())
        return json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": int(TOKEN_LIFETIME.total_seconds()),
                "scope": str(form.get("scope") or "merchant-api"),
            }
        )

    def _refuse_auth(self, request: Request) -> Response | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        expires = self.sb.store.get(f"resurs.token.{token}") if token else None
        if expires is None or datetime.fromisoformat(expires) <= self.sb.now():
            return error(401, "UNAUTHORIZED", "Missing, invalid or expired access token.")
        return None

    async def stores(self, request: Request) -> Response:
        refused = self._refuse_auth(request)
        if refused:
            return refused
        store = {
            "id": self.sb.config.resurs_store_id,
            "nationalStoreId": 1,
            "name": "Verkstad (sandbox)",
            "countryCode": "SE",
        }
        return json_response({"content": [store], "totalElements": 1, "totalPages": 1})

    async def payment_methods(self, request: Request) -> Response:
        refused = self._refuse_auth(request)
        if refused:
            return refused
        if request.path_params["store"] != self.sb.config.resurs_store_id:
            return error(404, "NOT_FOUND", "Store not found.")
        method = {
            "id": STORE_METHOD_ID,
            "description": "M-Pay: the customer chooses full payment, invoice or part payment",
            "type": "RESURS_PART_PAYMENT",
            "minPurchaseLimit": Decimal("10.00"),
            "maxPurchaseLimit": Decimal("200000.00"),
            "enabledForLegalCustomer": True,
            "enabledForNaturalCustomer": True,
            "sortOrder": 1,
        }
        return json_response({"content": [method]})

    # ---------------------------------------------------------------- payments

    async def create(self, request: Request) -> Response:
        refused = self._refuse_auth(request)
        if refused:
            return refused
        body = await read_json(request)
        if not isinstance(body, dict):
            return error(400, "VALIDATION_ERROR", "The request body is not valid JSON.")
        try:
            lines, total = self._lines((body.get("order") or {}).get("orderLines"))
            ttl = self._validate(body)
        except ValueError as e:
            return error(400, "VALIDATION_ERROR", str(e))
        now = self.sb.now()
        payment_id = str(uuid.uuid4())
        order = body["order"]
        customer = body.get("customer") or {}
        custom = {e["key"]: e["value"] for e in (body.get("metadata") or {}).get("custom", [])}
        p = Payment(
            provider=self.name,
            id=payment_id,
            merchant_ref=order["orderReference"],
            state="TASK_REDIRECTION_REQUIRED",
            live=True,
            created_at=now,
            human_ref=str(custom.get("verkstadReference", "")),
            phone="".join(c for c in str(customer.get("mobilePhone", "")) if c.isdigit()),
            doc={
                "storeId": body["storeId"],
                "customer": customer,
                "metadata": body.get("metadata") or {},
                "orderReference": order["orderReference"],
                "lines": lines,
                "amounts": {
                    "total": total,
                    "authorized": 0,
                    "captured": 0,
                    "refunded": 0,
                    "canceled": 0,
                },
                "actionLog": [],
                "paymentMethod": None,
                "rejectedReason": None,
                "expires_at": (now + timedelta(minutes=ttl)).isoformat(),
                "callbacks": (body.get("options") or {}).get("callbacks") or {},
                "task": {"completed": False, "hasActiveTask": False},
            },
        )
        self._log(p, "CREATE", lines, None, str((body.get("metadata") or {}).get("creator", "")))
        self.save(p)
        if (body.get("options") or {}).get("deliverLinks"):
            self.sb.text(
                p.phone,
                self.name,
                "sms",
                _("Resurs Bank: pay {amount} to {store}. Choose how to pay: {link}").format(
                    amount=format_amount(total, "SEK"),
                    store=body["storeId"],
                    link=self.sb.link(f"{PAY_PAGE}{payment_id}"),
                ),
                self.sb.link(f"{PAY_PAGE}{payment_id}"),
                p,
            )
        self.sb.after_create(p)
        fresh = self.sb.store.payment(self.name, payment_id)
        assert fresh is not None
        return json_response(self.render(fresh), 201)

    def _validate(self, body: dict[str, Any]) -> int:
        if body.get("storeId") != self.sb.config.resurs_store_id:
            raise ValueError("storeId: unknown store")
        if body.get("paymentMethodId") != STORE_METHOD_ID:
            raise ValueError("paymentMethodId: not a payment method of this store")
        reference = str((body.get("order") or {}).get("orderReference", ""))
        if not ORDER_REFERENCE.match(reference):
            raise ValueError("order.orderReference: 1-32 characters [A-Za-z0-9_-]")
        options = body.get("options") or {}
        ttl = options.get("timeToLiveInMinutes", DEFAULT_TTL_MINUTES)
        if type(ttl) is not int or not 1 <= ttl <= 43_200:
            raise ValueError("options.timeToLiveInMinutes: must be 1-43200")
        if options.get("automaticCapture") and options.get("handleFrozenPayments"):
            raise ValueError(
                "options: automaticCapture cannot be combined with handleFrozenPayments"
            )
        phone = str((body.get("customer") or {}).get("mobilePhone", ""))
        if options.get("deliverLinks") and not phone:
            raise ValueError("customer.mobilePhone: required when deliverLinks is true")
        if phone and (
            not re.match(r"^\+?[0-9]{8,15}$", phone)
            or scenario_for(phone) == Scenario.INVALID_NUMBER
        ):
            raise ValueError("customer.mobilePhone: not a valid mobile phone number")
        return int(ttl)

    @staticmethod
    def _lines(raw: Any) -> tuple[list[dict[str, Any]], int]:
        """Order lines as stored (amounts in minor units) and their total."""
        if not isinstance(raw, list) or not raw:
            raise ValueError("order.orderLines: at least one line is required")
        lines, total = [], 0
        for i, line in enumerate(raw):
            where = f"order.orderLines[{i}]"
            if not isinstance(line, dict):
                raise ValueError(where)
            try:
                amount = minor_of(line["totalAmountIncludingVat"])
                vat_rate = Decimal(str(line["vatRate"]))
                quantity = Decimal(str(line["quantity"]))
            except (KeyError, ValueError, InvalidOperation):
                raise ValueError(
                    f"{where}: quantity, vatRate and totalAmountIncludingVat are required numbers"
                ) from None
            if not 0 <= vat_rate <= Decimal("99.99") or quantity <= 0:
                raise ValueError(f"{where}: vatRate 0-99.99 and a positive quantity")
            if len(str(line.get("description", ""))) > 50:
                raise ValueError(f"{where}.description: at most 50 characters")
            if line.get("type", "NORMAL") not in LINE_TYPES:
                raise ValueError(f"{where}.type: one of {', '.join(sorted(LINE_TYPES))}")
            lines.append(
                {
                    "description": str(line.get("description", "")),
                    "reference": line.get("reference"),
                    "quantity": str(quantity),
                    "quantityUnit": str(line.get("quantityUnit", "")),
                    "vatRate": str(vat_rate),
                    "amount_minor": amount,
                    "type": line.get("type", "NORMAL"),
                }
            )
            total += amount
        if total <= 0:
            raise ValueError("order.orderLines: the total must be more than zero")
        return lines, total

    async def get(self, request: Request) -> Response:
        refused = self._refuse_auth(request)
        if refused:
            return refused
        p = self.sb.store.payment(self.name, request.path_params["id"])
        if p is None:
            return error(404, "NOT_FOUND", "Payment not found.")
        return json_response(self.render(p))

    async def search(self, request: Request) -> Response:
        refused = self._refuse_auth(request)
        if refused:
            return refused
        body = await read_json(request)
        if not isinstance(body, dict) or body.get("storeId") != self.sb.config.resurs_store_id:
            return error(400, "VALIDATION_ERROR", "storeId is required.")
        found = self.sb.store.payments_of(self.name)
        if body.get("orderReference"):
            found = [p for p in found if p.merchant_ref == body["orderReference"]]
        content = [self.render(p) for p in reversed(found)]
        return json_response({"content": content, "totalElements": len(content), "totalPages": 1})

    async def task_status(self, request: Request) -> Response:
        refused = self._refuse_auth(request)
        if refused:
            return refused
        p = self.sb.store.payment(self.name, request.path_params["id"])
        if p is None:
            return error(404, "NOT_FOUND", "Payment not found.")
        task = p.doc["task"]
        return json_response(
            {
                "completed": task["completed"],
                "customer": {
                    "customerUrl": self.sb.link(f"{PAY_PAGE}{p.id}"),
                    "hasActiveTask": task["hasActiveTask"],
                },
            }
        )

    def render(self, p: Payment) -> dict[str, Any]:
        d = p.doc
        a = d["amounts"]
        return {
            "id": p.id,
            "created": stamp(p.created_at),
            "storeId": d["storeId"],
            "countryCode": "SE",
            "customer": d["customer"],
            "status": p.state,
            "paymentMethod": d["paymentMethod"],
            "rejectedReason": d["rejectedReason"],
            "metadata": d["metadata"],
            "order": {
                "orderReference": d["orderReference"],
                "actionLog": [self._render_action(a) for a in d["actionLog"]],
                "possibleActions": [{"action": a} for a in self._possible(p)],
                "totalOrderAmount": major(a["total"]),
                "authorizedAmount": major(a["authorized"]),
                "capturedAmount": major(a["captured"]),
                "refundedAmount": major(a["refunded"]),
                "canceledAmount": major(a["canceled"]),
            },
            "taskRedirectionUrls": {"customerUrl": self.sb.link(f"{PAY_PAGE}{p.id}")}
            if p.state == "TASK_REDIRECTION_REQUIRED"
            else None,
        }

    @staticmethod
    def _possible(p: Payment) -> list[str]:
        a = p.doc["amounts"]
        actions = []
        if p.state == "ACCEPTED" and a["authorized"] - a["captured"] - a["canceled"] > 0:
            actions += ["CAPTURE", "PARTIAL_CAPTURE", "CANCEL", "PARTIAL_CANCEL"]
        if a["captured"] - a["refunded"] > 0:
            actions += ["REFUND", "PARTIAL_REFUND"]
        return actions

    # ---------------------------------------------------------------- capture / refund / cancel

    async def capture(self, request: Request) -> Response:
        return await self._manage(request, "CAPTURE")

    async def refund(self, request: Request) -> Response:
        return await self._manage(request, "REFUND")

    async def cancel(self, request: Request) -> Response:
        return await self._manage(request, "CANCEL")

    async def _manage(self, request: Request, action: str) -> Response:
        refused = self._refuse_auth(request)
        if refused:
            return refused
        p = self.sb.store.payment(self.name, request.path_params["id"])
        if p is None:
            return error(404, "NOT_FOUND", "Payment not found.")
        raw = await request.body()
        body = await read_json(request) if raw else {}
        if not isinstance(body, dict):
            return error(400, "VALIDATION_ERROR", "The request body is not valid JSON.")
        if action == "CANCEL" and p.state == "TASK_REDIRECTION_REQUIRED":
            self._reject(p, "CANCELED")  # before the customer signed: the link dies
            return json_response(self.render(p))
        a = p.doc["amounts"]
        eligible = {
            "CAPTURE": a["authorized"] - a["captured"] - a["canceled"],
            "CANCEL": a["authorized"] - a["captured"] - a["canceled"],
            "REFUND": a["captured"] - a["refunded"],
        }[action]
        if action not in self._possible(p):
            return error(
                400,
                "ACTION_NOT_ALLOWED",
                f"{action} is not allowed for a payment in status {p.state} "
                f"(possible actions: {', '.join(self._possible(p)) or 'none'}).",
            )
        if body.get("orderLines"):
            try:
                lines, amount = self._lines(body["orderLines"])
            except ValueError as e:
                return error(400, "VALIDATION_ERROR", str(e))
        else:
            lines, amount = [], eligible
        if amount > eligible:
            return error(
                400,
                "AMOUNT_EXCEEDED",
                f"{action} of {major(amount)} exceeds what is eligible ({major(eligible)}).",
            )
        a[{"CAPTURE": "captured", "CANCEL": "canceled", "REFUND": "refunded"}[action]] += amount
        action_id = self._log(
            p,
            action,
            lines or p.doc["lines"],
            body.get("transactionId"),
            str(body.get("creator", "")),
            amount,
        )
        self.save(p)
        if action != "CANCEL":
            self.sb.money_moved(
                p,
                action,
                amount,
                "SEK",
                transaction_id=body.get("transactionId"),
                method=(p.doc["paymentMethod"] or {}).get("type"),
            )
        self._callback(p, "management", {"action": action, "actionId": action_id})
        return json_response(self.render(p))

    def _log(
        self,
        p: Payment,
        kind: str,
        lines: list[dict[str, Any]],
        transaction_id: str | None,
        creator: str,
        amount: int | None = None,
    ) -> str:
        action_id = str(uuid.uuid4())
        p.doc["actionLog"].append(
            {
                "actionId": action_id,
                "type": kind,
                "created": stamp(self.sb.now()),
                "transactionId": transaction_id,
                "creator": creator or None,
                "orderLines": lines,
                "amount_minor": amount,
            }
        )
        return action_id

    def _render_action(self, action: dict[str, Any]) -> dict[str, Any]:
        rendered = {k: v for k, v in action.items() if k not in ("orderLines", "amount_minor")}
        rendered["orderLines"] = [self._render_line(line) for line in action["orderLines"]]
        return rendered

    @staticmethod
    def _render_line(line: dict[str, Any]) -> dict[str, Any]:
        return {
            "description": line["description"],
            "reference": line["reference"],
            "quantity": Decimal(line["quantity"]),
            "quantityUnit": line["quantityUnit"],
            "vatRate": Decimal(line["vatRate"]),
            "totalAmountIncludingVat": major(line["amount_minor"]),
            "type": line["type"],
        }

    # ---------------------------------------------------------------- the customer and time

    def act(self, p: Payment, action: Action, method: str | None) -> None:
        if p.state != "TASK_REDIRECTION_REQUIRED":
            raise SandboxError(
                409, _("The payment is {state}; nothing to do.").format(state=p.state)
            )
        if action in (Action.OPEN, Action.START):
            p.doc["task"]["hasActiveTask"] = True
            p.extra["customer"] = "opened" if action == Action.OPEN else "entering details"
            self.save(p)
        elif action == Action.APPROVE:
            if self.sb.first_attempt_fails(p):
                self._reject(p, "CREDIT_DENIED")
                return
            name, kind, _seen = CHOICES[method or "full"]
            p.doc["paymentMethod"] = {"id": STORE_METHOD_ID, "name": name, "type": kind}
            p.doc["amounts"]["authorized"] = p.doc["amounts"]["total"]
            p.doc["task"] = {"completed": True, "hasActiveTask": False}
            p.state = "ACCEPTED"
            self._log(p, "AUTHORIZE", p.doc["lines"], None, "")
            self.save(p)
            self._callback(p, "authorization", {"status": "AUTHORIZED"})
        elif action == Action.DECLINE:
            self._reject(p, "ABORTED_BY_CUSTOMER")
        elif action == Action.EXPIRE:
            self._reject(p, "TIMEOUT")

    def _reject(self, p: Payment, reason: str) -> None:
        p.state = "REJECTED"
        p.doc["rejectedReason"] = {"category": reason}
        p.doc["task"] = {"completed": False, "hasActiveTask": False}
        self.save(p)
        self._callback(p, "authorization", {"status": "REJECTED"})

    def tick(self, p: Payment, now: datetime) -> None:
        if p.state == "TASK_REDIRECTION_REQUIRED" and now >= datetime.fromisoformat(
            p.doc["expires_at"]
        ):
            self._reject(p, "TIMEOUT")

    def summary(self, p: Payment) -> dict[str, Any]:
        return {
            "provider": self.name,
            "id": p.id,
            "reference": p.human_ref or p.merchant_ref,
            "state": p.state,
            "amount": format_amount(p.doc["amounts"]["total"], "SEK"),
            "customer": p.extra.get("customer", ""),
        }

    def save(self, p: Payment) -> None:
        p.live = p.state == "TASK_REDIRECTION_REQUIRED"
        self.sb.store.save(p)

    def _callback(self, p: Payment, kind: str, fields: dict[str, Any]) -> None:
        url = (p.doc["callbacks"].get(kind) or {}).get("url")
        payload = {"paymentId": p.id, **fields, "created": stamp(self.sb.now())}
        self.sb.webhooks.send(self.name, p.id, url, payload, "resurs")
