"""An SMS gateway in the style of 46elks (``POST /a1/sms``: from, to, message; basic auth).

Form-encoded or JSON. An ``Idempotency-Key`` header makes a resend with the
same key return the first answer without a second text (verkstad's outbox
relies on that). Every text lands on the recipient's phone; a Stripe
Checkout link in it introduces that phone to the session, so the number's
scenario plays out (e.g. the auto-approve number pays at once).
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from verkstad.sandbox.core import Sandbox
from verkstad.sandbox.scenarios import Scenario, digits, scenario_for
from verkstad.sandbox.stripe import CHECKOUT_PATH
from verkstad.sandbox.wire import fingerprint, json_response, read_json, replay

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
SENDER = re.compile(r"^([A-Za-z][A-Za-z0-9]{2,10}|\+[1-9][0-9]{7,14})$")
LINK = re.compile(r"https?://\S+")
MAX_LENGTH = 1600


def segments(message: str) -> int:
    """How many SMS parts a text needs (GSM 7-bit 160/153, else UCS-2 70/67)."""
    gsm = all(ord(c) < 128 or c in "ÄÖÅäöåÉéÆØæøÜü£¥§" for c in message)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if len(message) <= single else -(-len(message) // multi)


class SmsGateway:
    name = "sms"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/a1/sms", self.send, methods=["POST"]),
            Route("/a1/sms/{id}", self.get, methods=["GET"]),
        ]

    def _authorised(self, request: Request) -> bool:
        cfg = self.sb.config
        expected = base64.b64encode(f"{cfg.sms_username}:{cfg.sms_password}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    async def send(self, request: Request) -> Response:
        if not self._authorised(request):
            return Response("Unauthorized", 401, headers={"WWW-Authenticate": "Basic"})
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await read_json(request)
            fields: dict[str, Any] = body if isinstance(body, dict) else {}
        else:
            fields = dict((await request.form()).items())
        sender, to, message = (str(fields.get(k, "")) for k in ("from", "to", "message"))
        key = request.headers.get("idempotency-key", "")
        request_hash = fingerprint(sender, to, message)
        if key:
            saved = self.sb.store.saved_response(self.name, key)
            if saved is not None and saved.request_hash == request_hash:
                return replay(saved)
            if saved is not None:
                return Response("Idempotency-Key reused with another message", 409)
        if not SENDER.match(sender):
            return Response("Invalid from", 400)
        if not E164.match(to) or scenario_for(to) == Scenario.INVALID_NUMBER:
            return Response("Invalid to", 400)
        if not message or len(message) > MAX_LENGTH:
            return Response(f"Message must be 1-{MAX_LENGTH} characters", 400)
        now = self.sb.now()
        sms = {
            "status": "created",
            "direction": "outgoing",
            "from": sender,
            "to": to,
            "created": now.isoformat(timespec="microseconds").replace("+00:00", ""),
            "parts": segments(message),
            "message": message,
            "id": "s" + secrets.token_hex(16),
            "cost": 3500 * segments(message),  # in 10 000ths of the currency, like 46elks
        }
        self.sb.store.put(f"sms.{sms['id']}", sms)
        links = LINK.findall(message)
        self.sb.text(to, self.name, "sms", message, links[0] if links else None)
        for link in links:
            self._introduce(to, link)
        response = json_response(sms)
        if key:
            self.sb.remember(self.name, key, request_hash, response)
        return response

    async def get(self, request: Request) -> Response:
        if not self._authorised(request):
            return Response("Unauthorized", 401, headers={"WWW-Authenticate": "Basic"})
        sms = self.sb.store.get(f"sms.{request.path_params['id']}")
        return json_response(sms) if sms else Response("Not found", 404)

    def _introduce(self, to: str, link: str) -> None:
        """A Checkout link reached a phone: that customer now owns the session."""
        if CHECKOUT_PATH not in link:
            return
        session_id = link.rsplit("/", 1)[-1]
        p = self.sb.store.payment("stripe", session_id)
        if p is None or p.phone:
            return
        p.phone = digits(to)
        self.sb.emulators["stripe"].save(p)
        self.sb.after_create(p)
