"""Faults on demand, in front of the emulated providers (an ASGI middleware).

A rule says what goes wrong, for which requests and how often:

    {"kind": "error" | "rate_limit" | "malformed" | "drop" | "reset" | "latency",
     "provider": "vipps" | "swish" | "stripe" | "resurs" | "sms" | null,
     "method": "POST" | null, "path": "regular expression" | null,
     "rate": 0.0-1.0, "remaining": N | null, "latency_ms": N}

``error`` answers 500 without doing the work (Stripe saves it under the
Idempotency-Key, as the real API does once execution began); ``rate_limit``
answers 429; ``malformed`` does the work and garbles the JSON; ``drop`` does
the work, then closes the connection before the body ("commit then drop the
reply"); ``reset`` closes the connection without doing anything (the
connection broke on the way); ``latency`` waits first and combines with the
others (alone, the work is done after the wait, even if the caller gave up). The first
matching non-latency rule whose dice roll hits wins; ``remaining`` counts
down and the rule disappears at zero. ``rate_limits`` (default on) turns the
providers' own request limits on or off.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verkstad.sandbox import resurs, stripe, vipps
from verkstad.sandbox.core import Sandbox
from verkstad.sandbox.wire import parse_form

KINDS = ("error", "rate_limit", "malformed", "drop", "reset", "latency")
PROVIDERS = ("vipps", "swish", "stripe", "resurs", "sms")


@dataclass
class Rule:
    kind: str
    provider: str | None = None
    method: str | None = None
    path: str | None = None
    rate: float = 1.0
    remaining: int | None = None
    latency_ms: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if self.provider is not None and self.provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}")
        if not 0 <= self.rate <= 1:
            raise ValueError("rate must be 0-1")
        if self.remaining is not None and self.remaining < 1:
            raise ValueError("remaining must be at least 1")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if self.path is not None:
            re.compile(self.path)  # re.error is a ValueError

    def matches(self, provider: str, method: str, path: str) -> bool:
        return (
            (self.provider is None or self.provider == provider)
            and (self.method is None or self.method.upper() == method)
            and (self.path is None or re.search(self.path, path) is not None)
        )


def provider_of(path: str) -> str | None:
    """Which emulated provider a path belongs to (all share one port)."""
    if path.startswith(("/accesstoken/", "/epayment/", "/webhooks/v1/")):
        return "vipps"
    if path.startswith("/api/"):
        return "swish"
    if path.startswith("/v1/"):
        return "stripe"
    if path.startswith(("/oauth2/", "/v2/")):
        return "resurs"
    if path.startswith("/a1/"):
        return "sms"
    return None


class Faults:
    """The rules, persisted in the store."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self._dice = random.Random()

    def state(self) -> dict[str, Any]:
        return {"rate_limits": True, "rules": [], **self.sb.store.get("faults", {})}

    def configure(
        self, rules: list[dict[str, Any]] | None, rate_limits: bool | None
    ) -> dict[str, Any]:
        state = self.state()
        if rules is not None:
            state["rules"] = [asdict(Rule(**r)) for r in rules]
        if rate_limits is not None:
            state["rate_limits"] = rate_limits
        self.sb.store.put("faults", state)
        return state

    def add(self, rule: dict[str, Any]) -> dict[str, Any]:
        return self.configure([*self.state()["rules"], asdict(Rule(**rule))], None)

    def pick(self, provider: str, method: str, path: str) -> tuple[int, Rule | None]:
        """Total latency and the fault to apply to this request (counting it down)."""
        state = self.state()
        rules = [Rule(**r) for r in state["rules"]]
        latency, chosen = 0, None
        for rule in rules:
            if not rule.matches(provider, method, path) or self._dice.random() >= rule.rate:
                continue
            if rule.kind == "latency":
                latency += rule.latency_ms
            elif chosen is None:
                chosen = rule
            else:
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
        state["rules"] = [asdict(r) for r in rules if r.remaining is None or r.remaining > 0]
        self.sb.store.put("faults", state)
        return latency, chosen


async def _buffered(receive: Receive) -> Receive:
    """Read the request body at once; the returned ``receive`` hands it out again."""
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the caller is gone already: nothing more will come
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def error_response(provider: str) -> Response:
    if provider == "vipps":
        return vipps.problem(500, "Internal error", "Internal error.")
    if provider == "stripe":
        return stripe.server_error()
    if provider == "resurs":
        return resurs.error(500, "INTERNAL_ERROR", "Internal server error.")
    return Response("Internal Server Error", 500)


def rate_limit_response(provider: str) -> Response:
    if provider == "vipps":
        return vipps.problem(429, "Too Many Requests", "Rate limit exceeded.")
    if provider == "stripe":
        return stripe.rate_limit_error()
    if provider == "resurs":
        return resurs.error(429, "TOO_MANY_REQUESTS", "Too many requests.")
    return Response("Too Many Requests", 429)


class FaultMiddleware:
    """Applies the fault rules and lets virtual time act before every request."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox, faults: Faults) -> None:
        self.app = app
        self.sb = sandbox
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.sb.requests.begin()
        try:
            await self._handle(scope, receive, send)
        finally:
            self.sb.requests.end()

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.sb.tick()
        path, method = scope["path"], scope["method"]
        provider = provider_of(path)
        if provider is None:
            await self.app(scope, receive, send)
            return
        latency, rule = self.faults.pick(provider, method, path)
        if latency:
            # A real server has the whole request before it dawdles: read it now, so the work
            # (or a saved 500) still happens when the caller has given up meanwhile.
            receive = await _buffered(receive)
            await asyncio.sleep(latency / 1000)
        if rule is None:
            await self.app(scope, receive, send)
        elif rule.kind == "error":
            if provider == "stripe" and method == "POST":
                await self._save_stripe_500(scope, receive)
            await error_response(provider)(scope, receive, send)
        elif rule.kind == "rate_limit":
            await rate_limit_response(provider)(scope, receive, send)
        elif rule.kind == "reset":
            # Promise a body, send none: the server closes the connection, nothing was done.
            headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
        else:
            await self._after_work(scope, receive, send, rule.kind)

    async def _save_stripe_500(self, scope: Scope, receive: Receive) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        key = headers.get("idempotency-key")
        if not key:
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        params = parse_form(parse_qsl(body.decode(), keep_blank_values=True))
        request_hash = stripe.StripeEmulator.request_hash("POST", scope["path"], params)
        self.sb.remember("stripe", key, request_hash, stripe.server_error())

    async def _after_work(self, scope: Scope, receive: Receive, send: Send, kind: str) -> None:
        """Let the provider do the work, then garble or drop what it answers."""
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if kind == "malformed":
            garbled = body[: len(body) // 2] if len(body) > 2 else b"{"
            headers.append((b"content-length", str(len(garbled)).encode()))
            await send(
                {"type": "http.response.start", "status": start["status"], "headers": headers}
            )
            await send({"type": "http.response.body", "body": garbled})
            return
        # drop: promise a body, send none, and let the server close the connection.
        headers.append((b"content-length", str(len(body) + 1).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
