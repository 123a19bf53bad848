"""The sandbox's own HTTP API (``/_sandbox/…``) and the phone as JSON (``/phone/{number}``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from verkstad.i18n import _
from verkstad.sandbox import settlement
from verkstad.sandbox.core import Action, Sandbox, SandboxError
from verkstad.sandbox.faults import Faults
from verkstad.sandbox.scenarios import DESCRIPTIONS, SUFFIXES, digits, scenario_for
from verkstad.sandbox.wire import json_response, read_json

Handler = Callable[[Request], Awaitable[Response]]


def _refusing(handler: Handler) -> Handler:
    """Turn SandboxError / ValueError into a JSON error with a plain message."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except SandboxError as e:
            return json_response({"error": str(e)}, e.status)
        except (ValueError, TypeError, KeyError) as e:
            return json_response({"error": _("Invalid request: {detail}").format(detail=e)}, 400)

    return wrapped


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request) if await request.body() else {}
    if not isinstance(body, dict):
        raise SandboxError(400, _("The request body must be a JSON object."))
    return body


class Control:
    def __init__(self, sandbox: Sandbox, faults: Faults) -> None:
        self.sb = sandbox
        self.faults = faults

    def routes(self) -> list[BaseRoute]:
        r = _refusing
        return [
            Route("/_sandbox", r(self.status), methods=["GET"]),
            Route("/_sandbox/reset", r(self.reset), methods=["POST"]),
            Route("/_sandbox/clock", r(self.clock), methods=["GET"]),
            Route("/_sandbox/clock/advance", r(self.advance), methods=["POST"]),
            Route("/_sandbox/clock/freeze", r(self.freeze), methods=["POST"]),
            Route("/_sandbox/faults", r(self.get_faults), methods=["GET"]),
            Route("/_sandbox/faults", r(self.set_faults), methods=["POST"]),
            Route("/_sandbox/faults", r(self.clear_faults), methods=["DELETE"]),
            Route("/_sandbox/webhooks", r(self.get_webhooks), methods=["GET"]),
            Route("/_sandbox/webhooks", r(self.set_webhooks), methods=["POST"]),
            Route("/_sandbox/webhooks/deliver", r(self.deliver), methods=["POST"]),
            Route("/_sandbox/customer/{action}", r(self.customer), methods=["POST"]),
            Route("/_sandbox/payments", r(self.payments), methods=["GET"]),
            Route("/_sandbox/settlement", r(self.settlement), methods=["GET"]),
            Route("/phone/{number}", r(self.phone), methods=["GET"]),
        ]

    async def status(self, request: Request) -> Response:
        return json_response(
            {
                "clock": self.sb.clock.state(),
                "faults": self.faults.state(),
                "webhooks": self.sb.webhooks.switches(),
                "scenarios": {
                    suffix: {"scenario": s.value, "description": _(DESCRIPTIONS[s])}
                    for suffix, s in SUFFIXES.items()
                },
            }
        )

    async def reset(self, request: Request) -> Response:
        self.sb.reset()
        return json_response({"reset": True})

    async def clock(self, request: Request) -> Response:
        return json_response(self.sb.clock.state())

    async def advance(self, request: Request) -> Response:
        body = await _body(request)
        delta = timedelta(
            days=float(body.get("days", 0)),
            hours=float(body.get("hours", 0)),
            minutes=float(body.get("minutes", 0)),
            seconds=float(body.get("seconds", 0)),
        )
        if delta < timedelta(0):
            raise SandboxError(400, _("The clock only moves forward."))
        self.sb.clock.advance(delta)
        self.sb.tick()
        return json_response(self.sb.clock.state())

    async def freeze(self, request: Request) -> Response:
        body = await _body(request)
        self.sb.clock.freeze(bool(body.get("frozen", True)))
        return json_response(self.sb.clock.state())

    async def get_faults(self, request: Request) -> Response:
        return json_response(self.faults.state())

    async def set_faults(self, request: Request) -> Response:
        """``{"add": rule}`` appends; ``{"rules": [...], "rate_limits": bool}`` replaces."""
        body = await _body(request)
        if "add" in body:
            return json_response(self.faults.add(body["add"]))
        return json_response(self.faults.configure(body.get("rules"), body.get("rate_limits")))

    async def clear_faults(self, request: Request) -> Response:
        return json_response(self.faults.configure([], True))

    async def get_webhooks(self, request: Request) -> Response:
        return json_response(
            {"switches": self.sb.webhooks.switches(), "queue": self.sb.webhooks.listing()}
        )

    async def set_webhooks(self, request: Request) -> Response:
        return json_response(self.sb.webhooks.configure(await _body(request)))

    async def deliver(self, request: Request) -> Response:
        self.sb.tick()
        return json_response({"delivered": await self.sb.webhooks.deliver_due()})

    async def customer(self, request: Request) -> Response:
        try:
            action = Action(request.path_params["action"])
        except ValueError:
            raise SandboxError(
                404,
                _("Unknown action; use one of: {choices}").format(
                    choices=", ".join(a.value for a in Action)
                ),
            ) from None
        body = await _body(request)
        p = self.sb.act(str(body.get("reference", "")), action, body.get("method") or None)
        return json_response(self.sb.emulators[p.provider].summary(p))

    async def payments(self, request: Request) -> Response:
        reference = request.query_params.get("reference")
        found = (
            self.sb.store.find_payments(reference) if reference else self.sb.store.live_payments()
        )
        return json_response([self.sb.emulators[p.provider].summary(p) for p in found])

    async def settlement(self, request: Request) -> Response:
        q = request.query_params
        provider = q.get("provider", "")
        if provider not in settlement.FEES:
            raise SandboxError(
                400,
                _("provider must be one of: {choices}").format(choices=", ".join(settlement.FEES)),
            )
        start, end = date.fromisoformat(q["from"]), date.fromisoformat(q["to"])
        if end < start:
            raise SandboxError(400, _("The period ends before it starts."))
        text = settlement.report(self.sb.store, provider, start, end)
        return Response(text, media_type="text/csv; charset=utf-8")

    async def phone(self, request: Request) -> Response:
        number = digits(request.path_params["number"])
        scenario = scenario_for(number)
        return json_response(
            {
                "number": number,
                "scenario": scenario.value,
                "description": _(DESCRIPTIONS[scenario]),
                "messages": self.sb.store.messages(number),
                "payments": [
                    self.sb.emulators[p.provider].summary(p)
                    for p in self.sb.store.payments_for_phone(number)
                ],
            }
        )
