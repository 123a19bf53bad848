"""Swish Commerce API (payment requests v2 create, v1 retrieve/cancel, refunds), as played here.

The instruction UUID in the path (32 uppercase hex; reused → RP09), amounts
as decimal strings in SEK, 201 with ``Location`` and no body, 422 with
``[{errorCode, errorMessage}]``, CREATED → PAID | DECLINED | ERROR |
CANCELLED, ~3 minutes to answer (then ERROR TM01), one open request per
payer (RP06), refunds up to the paid amount within 13 months, and callbacks
carrying the ``callbackIdentifier`` header. Like the MSS simulator, a
``message`` that is exactly an error code produces that error. The sandbox
speaks plain HTTP (the real API needs a client certificate) and also
accepts ``http://`` callback URLs on the loopback interface.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from verkstad.i18n import _
from verkstad.sandbox.core import Action, Sandbox, SandboxError
from verkstad.sandbox.scenarios import Scenario, scenario_for
from verkstad.sandbox.store import Payment
from verkstad.sandbox.wire import format_amount, json_response, major, read_json, stamp

INSTRUCTION_ID = re.compile(r"^[0-9A-F]{32}$")
PAYER_ALIAS = re.compile(r"^[1-9][0-9]{7,14}$")
PAYEE_ALIAS = re.compile(r"^123[0-9]{7}$")
REFERENCE = re.compile(r"^[a-zA-Z0-9\-_.+*/]{1,35}$")
AMOUNT = re.compile(r"^[0-9]{1,13}(\.[0-9]{1,2})?$")
TIME_TO_ANSWER = timedelta(minutes=3)
REFUND_WINDOW = timedelta(days=396)  # 13 months

ERRORS = {
    "FF08": "PaymentReference is invalid",
    "RP03": "Callback URL is missing or does not use HTTPS",
    "BE18": "Payer alias is invalid",
    "RP01": "Missing Merchant Swish Number",
    "PA01": "Parameter is not correct",
    "PA02": "Amount value is missing or not a valid number",
    "AM02": "Amount value is too large",
    "AM03": "Invalid or missing Currency",
    "AM04": "Insufficient funds in account",
    "AM06": "Specified transaction amount is less than agreed minimum",
    "RP02": "Wrong formatted message",
    "RP06": "A payment request already exists for that payer",
    "RP07": "Payment request is not in a state that can be cancelled",
    "RP09": "The given instructionUUID is not available",
    "ACMT03": "Payer not Enrolled",
    "ACMT01": "Counterpart is not activated",
    "ACMT07": "Payee not Enrolled",
    "RF02": "Original payment not found or original payment is more than 13 months old",
    "RF03": "Payer alias in the refund does not match the payee alias in the original payment",
    "RF07": "Transaction declined",
    "RF08": "Amount value is too large, or amount exceeds the amount of the original payment "
    "minus any previous refunds",
    "BANKIDCL": "Payer cancelled BankID signing",
    "FF10": "Bank system processing error",
    "TM01": "Swish timed out before the payment was started",
    "DS24": "Swish timed out waiting for an answer from the banks after payment was started",
    "VR01": "Payer does not meet age limit",
    "VR02": "The payer alias in the request is not enroled in swish with the supplied ssn",
}
# MSS: these codes in `message` fail the create; the others end the request after it.
CREATE_CODES = {"FF08", "RP03", "BE18", "RP01", "PA02", "AM02", "AM03", "AM06", "RP02"} | {
    "RP06",
    "ACMT03",
    "ACMT01",
    "ACMT07",
}
PAYMENT_CODES = {"RF07", "BANKIDCL", "FF10", "TM01", "DS24", "VR01", "VR02", "AM04"}


def errors(*codes: str) -> Response:
    return json_response(
        [{"errorCode": c, "errorMessage": ERRORS[c], "additionalInformation": None} for c in codes],
        422,
    )


def _loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


class SwishEmulator:
    name = "swish"
    methods: tuple[str, ...] = ()

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        sandbox.emulators[self.name] = self

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v2/paymentrequests/{id}", self.create, methods=["PUT"]),
            Route("/api/v1/paymentrequests/{id}", self.get, methods=["GET"]),
            Route("/api/v1/paymentrequests/{id}", self.cancel, methods=["PATCH"]),
            Route("/api/v2/refunds/{id}", self.create_refund, methods=["PUT"]),
            Route("/api/v1/refunds/{id}", self.get_refund, methods=["GET"]),
        ]

    # ---------------------------------------------------------------- payment requests

    async def create(self, request: Request) -> Response:
        instruction = request.path_params["id"]
        if not INSTRUCTION_ID.match(instruction):
            return errors("PA01")
        body = await read_json(request)
        if not isinstance(body, dict):
            return errors("PA01")
        failed = self._validate(body)
        if failed:
            return errors(*failed)
        if self.sb.store.payment(self.name, instruction) or self.sb.store.get(
            f"swish.refund.{instruction}"
        ):
            return errors("RP09")
        payer = body.get("payerAlias")
        if payer and any(
            p.doc["payerAlias"] == payer and p.state == "CREATED"
            for p in self.sb.store.live_payments()
            if p.provider == self.name
        ):
            return errors("RP06")
        now = self.sb.now()
        reference = str(body.get("payeePaymentReference") or "")
        p = Payment(
            provider=self.name,
            id=instruction,
            merchant_ref=reference or instruction,
            state="CREATED",
            live=True,
            created_at=now,
            human_ref=reference,
            phone=str(payer or ""),
            doc={
                "payeePaymentReference": reference or None,
                "paymentReference": None,
                "callbackUrl": body["callbackUrl"],
                "callbackIdentifier": body.get("callbackIdentifier"),
                "payerAlias": payer,
                "payeeAlias": body["payeeAlias"],
                "amount_minor": int(Decimal(body["amount"]) * 100),
                "currency": "SEK",
                "message": body.get("message") or "",
                "dateCreated": now.isoformat(),
                "datePaid": None,
                "errorCode": None,
                "refunds": {},
            },
        )
        self.save(p)
        headers = {"Location": self.sb.link(f"/api/v1/paymentrequests/{instruction}")}
        if payer:
            self.sb.text(
                payer,
                self.name,
                "push",
                _("Swish: payment request of {amount} from {payee}. {message}").format(
                    amount=format_amount(p.doc["amount_minor"], "SEK"),
                    payee=body["payeeAlias"],
                    message=p.doc["message"],
                ),
                self.sb.link(f"/phone?number={payer}"),
                p,
            )
        else:
            headers["PaymentRequestToken"] = secrets.token_hex(16)
        if p.doc["message"] in PAYMENT_CODES:
            self._end(p, "ERROR", p.doc["message"])
        else:
            self.sb.after_create(p)
        return Response(status_code=201, headers=headers)

    def _validate(self, body: dict[str, Any]) -> list[str]:
        message = str(body.get("message") or "")
        if message in CREATE_CODES:
            return [message]
        failed = []
        reference = body.get("payeePaymentReference")
        if reference is not None and not REFERENCE.match(str(reference)):
            failed.append("FF08")
        url = str(body.get("callbackUrl") or "")
        if not (url.startswith("https://") or (url.startswith("http://") and _loopback(url))):
            failed.append("RP03")
        payer = body.get("payerAlias")
        if payer is not None:
            scenario = scenario_for(str(payer))
            if not PAYER_ALIAS.match(str(payer)) or scenario == Scenario.INVALID_NUMBER:
                failed.append("BE18")
            elif scenario == Scenario.NOT_REGISTERED:
                failed.append("ACMT03")
        payee = body.get("payeeAlias")
        if not payee:
            failed.append("RP01")
        elif not PAYEE_ALIAS.match(str(payee)):
            failed.append("ACMT07")
        amount = body.get("amount")
        if not isinstance(amount, str) or not AMOUNT.match(amount):
            failed.append("PA02")
        elif Decimal(amount) < 1:
            failed.append("AM06")
        if body.get("currency") != "SEK":
            failed.append("AM03")
        if len(message) > 50:
            failed.append("RP02")
        return failed

    async def get(self, request: Request) -> Response:
        p = self.sb.store.payment(self.name, request.path_params["id"])
        if p is None:
            return Response(status_code=404)
        return json_response(self.render(p))

    async def cancel(self, request: Request) -> Response:
        p = self.sb.store.payment(self.name, request.path_params["id"])
        if p is None:
            return Response(status_code=404)
        body = await read_json(request)
        if body != [{"op": "replace", "path": "/status", "value": "cancelled"}]:
            return errors("PA01")
        if p.state != "CREATED":
            return errors("RP07")
        self._end(p, "CANCELLED", None)
        return json_response(self.render(p))

    def render(self, p: Payment) -> dict[str, Any]:
        d = p.doc
        code = d["errorCode"]
        return {
            "id": p.id,
            "payeePaymentReference": d["payeePaymentReference"],
            "paymentReference": d["paymentReference"],
            "callbackUrl": d["callbackUrl"],
            "payerAlias": d["payerAlias"],
            "payeeAlias": d["payeeAlias"],
            "amount": major(d["amount_minor"]),
            "currency": d["currency"],
            "message": d["message"],
            "status": p.state,
            "dateCreated": stamp(p.created_at),
            "datePaid": stamp(datetime.fromisoformat(d["datePaid"])) if d["datePaid"] else None,
            "errorCode": code,
            "errorMessage": ERRORS.get(code) if code else None,
        }

    # ---------------------------------------------------------------- refunds

    async def create_refund(self, request: Request) -> Response:
        instruction = request.path_params["id"]
        body = await read_json(request)
        if not INSTRUCTION_ID.match(instruction) or not isinstance(body, dict):
            return errors("PA01")
        if self.sb.store.get(f"swish.refund.{instruction}") or self.sb.store.payment(
            self.name, instruction
        ):
            return errors("RP09")
        amount = body.get("amount")
        if not isinstance(amount, str) or not AMOUNT.match(amount):
            return errors("PA02")
        if body.get("currency") != "SEK":
            return errors("AM03")
        original = self._by_payment_reference(str(body.get("originalPaymentReference") or ""))
        now = self.sb.now()
        if original is None or now > self._paid_at(original) + REFUND_WINDOW:
            return errors("RF02")
        if body.get("payerAlias") != original.doc["payeeAlias"]:
            return errors("RF03")
        value = int(Decimal(amount) * 100)
        refunded = sum(r["amount_minor"] for r in original.doc["refunds"].values())
        if value <= 0 or value > original.doc["amount_minor"] - refunded:
            return errors("RF08")
        refund = {
            "id": instruction,
            "payerPaymentReference": body.get("payerPaymentReference"),
            "originalPaymentReference": original.doc["paymentReference"],
            "paymentReference": secrets.token_hex(16).upper(),
            "callbackUrl": body.get("callbackUrl"),
            "callbackIdentifier": body.get("callbackIdentifier"),
            "payerAlias": original.doc["payeeAlias"],
            "payeeAlias": original.doc["payerAlias"],
            "amount_minor": value,
            "currency": "SEK",
            "message": body.get("message") or "",
            "status": "PAID",  # settles at once in the sandbox (real: CREATED → DEBITED → PAID)
            "dateCreated": now.isoformat(),
            "datePaid": now.isoformat(),
        }
        original.doc["refunds"][instruction] = refund
        self.save(original)
        self.sb.store.put(f"swish.refund.{instruction}", original.id)
        self.sb.money_moved(original, "REFUND", value, "SEK", swish_refund_id=instruction)
        self._callback(original, refund["callbackUrl"], refund["callbackIdentifier"], refund)
        return Response(
            status_code=201, headers={"Location": self.sb.link(f"/api/v1/refunds/{instruction}")}
        )

    async def get_refund(self, request: Request) -> Response:
        instruction = request.path_params["id"]
        payment_id = self.sb.store.get(f"swish.refund.{instruction}")
        p = self.sb.store.payment(self.name, payment_id) if payment_id else None
        if p is None:
            return Response(status_code=404)
        return json_response(self.render_refund(p.doc["refunds"][instruction]))

    @staticmethod
    def render_refund(r: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in r.items() if k not in ("amount_minor", "callbackIdentifier")}
        out["amount"] = major(r["amount_minor"])
        out["dateCreated"] = stamp(datetime.fromisoformat(r["dateCreated"]))
        out["datePaid"] = stamp(datetime.fromisoformat(r["datePaid"])) if r["datePaid"] else None
        out["errorCode"] = out["errorMessage"] = None
        return out

    def _by_payment_reference(self, reference: str) -> Payment | None:
        for p in self.sb.store.payments_of(self.name):
            if reference and p.doc["paymentReference"] == reference and p.state == "PAID":
                return p
        return None

    @staticmethod
    def _paid_at(p: Payment) -> datetime:
        return datetime.fromisoformat(p.doc["datePaid"])

    # ---------------------------------------------------------------- the customer and time

    def act(self, p: Payment, action: Action, method: str | None) -> None:
        if p.state != "CREATED":
            raise SandboxError(
                409, _("The payment is {state}; nothing to do.").format(state=p.state)
            )
        if action in (Action.OPEN, Action.START):
            p.extra["customer"] = "opened" if action == Action.OPEN else "signing"
            self.save(p)
        elif action == Action.APPROVE:
            if self.sb.first_attempt_fails(p):
                self._end(p, "ERROR", "AM04")
                return
            now = self.sb.now()
            p.doc["datePaid"] = now.isoformat()
            p.doc["paymentReference"] = secrets.token_hex(16).upper()
            self.sb.money_moved(p, "PAYMENT", p.doc["amount_minor"], "SEK")
            self._end(p, "PAID", None)
        elif action == Action.DECLINE:
            self._end(p, "DECLINED", None)
        elif action == Action.EXPIRE:
            self._end(p, "ERROR", "TM01")

    def tick(self, p: Payment, now: datetime) -> None:
        if p.state == "CREATED" and now >= p.created_at + TIME_TO_ANSWER:
            self._end(p, "ERROR", "TM01")

    def summary(self, p: Payment) -> dict[str, Any]:
        return {
            "provider": self.name,
            "id": p.id,
            "reference": p.human_ref or p.merchant_ref,
            "state": p.state,
            "amount": format_amount(p.doc["amount_minor"], "SEK"),
            "customer": p.extra.get("customer", ""),
        }

    def save(self, p: Payment) -> None:
        p.live = p.state == "CREATED"
        self.sb.store.save(p)

    def _end(self, p: Payment, state: str, code: str | None) -> None:
        p.state = state
        p.doc["errorCode"] = code
        self.save(p)
        self._callback(p, p.doc["callbackUrl"], p.doc["callbackIdentifier"], self.render(p))

    def _callback(
        self, p: Payment, url: str | None, identifier: str | None, payload: dict[str, Any]
    ) -> None:
        headers = {"callbackIdentifier": identifier} if identifier else {}
        self.sb.webhooks.send(self.name, p.id, url, payload, "swish", headers=headers)
