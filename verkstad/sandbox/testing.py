"""Run the sandbox in-process on a free loopback port (for tests and demos).

    with run_sandbox(tmp_path / "sandbox.db") as running:
        provider = get_provider("vipps", running.settings)
        ...
        running.act(reference, "approve")

Webhooks go out only when ``deliver_webhooks()`` is called, so tests decide
when they arrive.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from verkstad.config import Settings
from verkstad.sandbox.core import Sandbox, SandboxError
from verkstad.sandbox.server import bind, make_config


class _Server(uvicorn.Server):
    """A uvicorn server that says when it is ready (no sleeping to find out)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@dataclass
class RunningSandbox:
    url: str
    settings: Settings  # verkstad's settings, every provider pointing at this sandbox
    sandbox: Sandbox
    client: httpx.Client

    def control(self, method: str, path: str, json: Any = None) -> Any:
        response = self.client.request(method, path, json=json)
        if response.status_code >= 400:
            raise SandboxError(response.status_code, response.json().get("error", response.text))
        return (
            response.json() if "json" in response.headers.get("content-type", "") else response.text
        )

    def act(self, reference: str, action: str, method: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.control(
            "POST", f"/_sandbox/customer/{action}", {"reference": reference, "method": method}
        )
        return result

    def advance(self, **delta: float) -> None:
        self.control("POST", "/_sandbox/clock/advance", delta)

    def fault(self, kind: str, **rule: Any) -> None:
        self.control("POST", "/_sandbox/faults", {"add": {"kind": kind, **rule}})

    def webhooks(self, **switches: Any) -> None:
        self.control("POST", "/_sandbox/webhooks", switches)

    def deliver_webhooks(self) -> list[dict[str, Any]]:
        delivered: list[dict[str, Any]] = self.control("POST", "/_sandbox/webhooks/deliver")[
            "delivered"
        ]
        return delivered

    def phone(self, number: str) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", f"/phone/{number.lstrip('+')}")
        return result

    def reset(self) -> None:
        self.control("POST", "/_sandbox/reset")


@contextmanager
def run_sandbox(db_path: Path, settings: Settings | None = None) -> Iterator[RunningSandbox]:
    sock = bind("127.0.0.1", 0)
    base = settings or Settings()
    config, sandbox = make_config(sock, db_path, base, deliver_every=None, log_level="warning")
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    if not server.ready.wait(timeout=30):
        raise RuntimeError("the sandbox did not start")
    url = sandbox.config.public_url
    client = httpx.Client(base_url=url, timeout=10)
    try:
        yield RunningSandbox(url, base.model_copy(update={"sandbox_url": url}), sandbox, client)
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        sandbox.store.close()


@dataclass(frozen=True)
class Received:
    path: str  # path and query, as signed by Vipps
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A tiny HTTP endpoint on loopback that records what the sandbox sends it.

    ``status`` is what it answers (set 500 to make the sandbox retry).
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
