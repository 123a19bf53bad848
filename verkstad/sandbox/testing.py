"""Run the sandbox in-process on a free loopback port (for tests and demos).

    with run_sandbox(tmp_path / "sandbox.db") as running:
        provider = get_provider("vipps", running.settings)
        ...
        running.act(reference, "approve")

Webhooks go out only when ``deliver_webhooks()`` is called, so tests decide
when they arrive. ``run_sandbox(path, smtp=True)`` also starts the SMTP server on
a free port (``running.smtp_port``; ``running.settings.smtp`` points at it).
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
from starlette.types import ASGIApp

from verkstad.config import Settings
from verkstad.sandbox.core import Sandbox, SandboxError
from verkstad.sandbox.server import bind, make_config
from verkstad.sandbox.smtp import SmtpServer


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
    smtp_port: int | None = None  # the SMTP server's, when started

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

    def inbox(self, address: str) -> list[dict[str, Any]]:
        mails: list[dict[str, Any]] = self.control("GET", f"/inbox/{address}")["mails"]
        return mails

    def reset(self) -> None:
        self.control("POST", "/_sandbox/reset")

    def wait_idle(self, timeout: float = 30) -> None:
        """Wait until no provider request is being handled (a slow one finishes its work)."""
        if not self.sandbox.requests.wait_idle(timeout):
            raise TimeoutError("the sandbox is still handling requests")


@contextmanager
def run_sandbox(
    db_path: Path, settings: Settings | None = None, smtp: bool = False
) -> Iterator[RunningSandbox]:
    sock = bind("127.0.0.1", 0)
    base = settings or Settings()
    config, sandbox = make_config(sock, db_path, base, deliver_every=None, log_level="warning")
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    if not server.ready.wait(timeout=30):
        raise RuntimeError("the sandbox did not start")
    mail_server = SmtpServer(sandbox, bind("127.0.0.1", 0)) if smtp else None
    url = sandbox.config.public_url
    update: dict[str, Any] = {"sandbox_url": url}
    if mail_server is not None:
        mail_server.start()
        update["smtp"] = base.smtp.model_copy(
            update={"host": "127.0.0.1", "port": mail_server.port, "security": "none"}
        )
    client = httpx.Client(base_url=url, timeout=10)
    try:
        yield RunningSandbox(
            url,
            base.model_copy(update=update),
            sandbox,
            client,
            mail_server.port if mail_server else None,
        )
    finally:
        client.close()
        if mail_server is not None:
            mail_server.stop()
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        sandbox.store.close()


@contextmanager
def serve_app(app: ASGIApp) -> Iterator[str]:
    """Serve any ASGI app (e.g. verkstad's callback receiver) on a free loopback port.

    Yields its URL once the server has started (its lifespan included).
    """
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    if not server.ready.wait(timeout=30):
        raise RuntimeError("the server did not start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


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
