"""Wire helpers the emulated providers share: JSON with exact decimals, amounts, times."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from verkstad.mpay.providers.http import exact_json as dumps
from verkstad.sandbox.store import SavedResponse


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None, media: str = ""
) -> Response:
    return Response(dumps(data), status, headers=headers, media_type=media or "application/json")


async def read_json(request: Request) -> Any:
    """The request's JSON body, or None when it is not JSON."""
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


def replay(saved: SavedResponse) -> Response:
    """A saved idempotent response, byte for byte."""
    return Response(saved.body, saved.status, headers=saved.headers)


def major(minor: int) -> Decimal:
    """Minor units as an exact two-decimal major amount (Decimal("1250.00"))."""
    return Decimal(minor).scaleb(-2).quantize(Decimal("0.01"))


def minor_of(value: Any) -> int:
    """An exact major amount ("1250.00", Decimal, int) in minor units; ValueError otherwise."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(value) from None
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(value)
    return int(amount * 100)


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def format_amount(minor: int, currency: str) -> str:
    return f"{major(minor)} {currency}"


def stamp(at: datetime) -> str:
    """ISO 8601 UTC with milliseconds and Z, as the APIs write times."""
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_BRACKETS = re.compile(r"\[([^\]]*)\]")


def parse_form(items: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe-style form fields ("line_items[0][price_data][currency]", "expand[]") as nesting.

    Numeric keys become list positions and "[]" appends, so the result is what
    the same request would be as JSON.
    """
    root: dict[str, Any] = {}
    for name, value in items:
        head = name.split("[", 1)[0]
        keys = [head, *_BRACKETS.findall(name[len(head) :])]
        node: Any = root
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            nxt = None if last else keys[i + 1]
            empty: Any = [] if nxt is not None and (nxt == "" or nxt.isdigit()) else {}
            if isinstance(node, list):
                if key == "" or int(key) >= len(node):
                    node.append(value if last else empty)
                    node = node[-1]
                else:
                    node = node[int(key)]
            elif last:
                node[key] = value
            else:
                node = node.setdefault(key, empty)
    return root
