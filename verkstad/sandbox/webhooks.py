"""Webhooks/callbacks with each provider's real signature scheme, queued and retried.

Signatures are computed at each delivery attempt (fresh timestamps, like the
real senders). Switches (``POST /_sandbox/webhooks``): ``drop`` (never send),
``duplicate`` (send each one twice), ``delay_seconds`` (virtual seconds before
it is due) and ``reorder`` (send each due batch newest first, ignoring Vipps'
per-payment ordering).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import httpx

from verkstad.sandbox.clock import VirtualClock
from verkstad.sandbox.store import Store
from verkstad.sandbox.wire import dumps

SWITCHES = {"url": "", "drop": False, "duplicate": False, "delay_seconds": 0, "reorder": False}

# How long each provider keeps retrying a failed delivery (Swish: a number of tries).
RETRY_FOR = {
    "vipps": timedelta(days=7),
    "stripe": timedelta(days=3),
    "resurs": timedelta(days=30),
}
SWISH_TRIES = 10
ORDERED = {"vipps"}  # a failed notification blocks the later ones of the same payment


def vipps_headers(url: str, body: bytes, secret: str, date: str | None = None) -> dict[str, str]:
    """Vipps' HMAC-SHA256 over x-ms-date;host;x-ms-content-sha256 (request-authentication.md)."""
    parts = urlsplit(url)
    host = parts.netloc
    path_and_query = parts.path + (f"?{parts.query}" if parts.query else "")
    date = date or formatdate(usegmt=True)
    content_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
    to_sign = f"POST\n{path_and_query}\n{date};{host};{content_hash}"
    signature = base64.b64encode(
        hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).digest()
    ).decode()
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": content_hash,
        "host": host,
        "authorization": "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"
        f"&Signature={signature}",
    }


def stripe_header(body: bytes, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={v1}"


class WebhookQueue:
    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock
        self._lock = asyncio.Lock()

    def switches(self) -> dict[str, Any]:
        return {**SWITCHES, **self._store.get("webhooks", {})}

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - set(SWITCHES)
        if unknown:
            raise ValueError(", ".join(sorted(unknown)))
        merged = {**self.switches(), **changes}
        self._store.put("webhooks", merged)
        return merged

    def default_url(self, provider: str) -> str:
        """The webhook URL registered for Vipps/Stripe events ("{provider}" is substituted)."""
        return str(self.switches()["url"]).replace("{provider}", provider)

    def send(
        self,
        provider: str,
        payment_id: str,
        url: str | None,
        payload: dict[str, Any],
        scheme: str,
        secret: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Queue one notification; ``scheme`` is vipps | stripe | swish | resurs."""
        if not url:
            return
        switches = self.switches()
        now = self._clock.now()
        doc = {
            "url": url,
            "body": dumps(payload).decode(),
            "scheme": scheme,
            "secret": secret,
            "headers": headers or {},
            "first_due": now.isoformat(),
            "attempts": 0,
            "last_status": None,
        }
        if switches["drop"]:
            self._store.queue_webhook(provider, payment_id, now, doc, state="DROPPED")
            return
        due = now + timedelta(seconds=float(switches["delay_seconds"]))
        for _copy in range(2 if switches["duplicate"] else 1):
            self._store.queue_webhook(provider, payment_id, due, doc)

    async def deliver_due(self) -> list[dict[str, Any]]:
        """Send everything that is due now; returns what happened to each."""
        async with self._lock:
            now = self._clock.now()
            pending = self._store.pending_webhooks()
            reorder = bool(self.switches()["reorder"])
            if reorder:
                pending.reverse()
            blocked: set[tuple[str, str]] = set()  # payments whose earlier event is not through
            report: list[dict[str, Any]] = []
            if not any(due <= now for _seq, _p, _id, due, _doc in pending):
                return report  # (a client costs ~40 ms of TLS set-up: only when one is due)
            async with httpx.AsyncClient(timeout=5.0) as client:
                for seq, provider, payment_id, due, doc in pending:
                    key = (provider, payment_id)
                    ordered = provider in ORDERED and not reorder
                    if ordered and key in blocked:
                        continue
                    if due > now:
                        if ordered:
                            blocked.add(key)
                        continue
                    status = await self._post(client, doc)
                    doc["attempts"] += 1
                    doc["last_status"] = status
                    ok = status is not None and 200 <= status < 300
                    if ok:
                        self._store.update_webhook(seq, "DELIVERED", now, doc)
                    else:
                        blocked.add(key)
                        self._retry_or_give_up(seq, provider, doc, now)
                    report.append({"seq": seq, "provider": provider, "status": status, "ok": ok})
            return report

    def _retry_or_give_up(
        self, seq: int, provider: str, doc: dict[str, Any], now: datetime
    ) -> None:
        first = datetime.fromisoformat(doc["first_due"])
        if provider == "swish":
            give_up = doc["attempts"] >= SWISH_TRIES
        else:
            give_up = now - first >= RETRY_FOR.get(provider, timedelta(days=1))
        backoff = timedelta(seconds=min(3600, 10 * 2 ** (doc["attempts"] - 1)))
        self._store.update_webhook(seq, "FAILED" if give_up else "PENDING", now + backoff, doc)

    async def _post(self, client: httpx.AsyncClient, doc: dict[str, Any]) -> int | None:
        body = doc["body"].encode()
        headers = {"content-type": "application/json", **doc["headers"]}
        if doc["scheme"] == "vipps":
            headers.update(vipps_headers(doc["url"], body, doc["secret"]))
        elif doc["scheme"] == "stripe":
            headers["stripe-signature"] = stripe_header(body, doc["secret"])
        try:
            response = await client.post(doc["url"], content=body, headers=headers)
        except httpx.HTTPError:
            return None
        return response.status_code

    def listing(self) -> list[dict[str, Any]]:
        """The queue as the control API shows it (without secrets)."""
        return [
            {k: v for k, v in w.items() if k not in ("secret", "body")}
            | {"body": json.loads(w["body"])}
            for w in self._store.webhooks()
        ]
