"""The sandbox HTTP server: every emulated provider, the SMS gateway, the phone, the e-mail
inbox and controls, on one port (127.0.0.1 unless another host is asked for), served by uvicorn.
The SMTP server that fills the inbox is ``smtp.py``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from verkstad.config import Settings, data_dir
from verkstad.sandbox.control import Control
from verkstad.sandbox.core import Sandbox, SandboxConfig
from verkstad.sandbox.faults import FaultMiddleware, Faults
from verkstad.sandbox.inbox import Inbox
from verkstad.sandbox.pages import Pages
from verkstad.sandbox.resurs import ResursEmulator
from verkstad.sandbox.sms import SmsGateway
from verkstad.sandbox.store import Store
from verkstad.sandbox.stripe import StripeEmulator
from verkstad.sandbox.swish import SwishEmulator
from verkstad.sandbox.vipps import VippsEmulator

log = logging.getLogger(__name__)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def default_db() -> Path:
    return data_dir() / "sandbox.db"


def build_app(sandbox: Sandbox, deliver_every: float | None = 1.0) -> Starlette:
    """The ASGI app; ``deliver_every`` seconds the due webhooks go out (None: only on demand)."""
    faults = Faults(sandbox)
    routes: list[BaseRoute] = []
    for part in (
        VippsEmulator(sandbox),
        SwishEmulator(sandbox),
        StripeEmulator(sandbox),
        ResursEmulator(sandbox),
        SmsGateway(sandbox),
        Control(sandbox, faults),
        Pages(sandbox),
        Inbox(sandbox),
    ):
        routes += part.routes()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(_deliver_loop(sandbox, deliver_every)) if deliver_every else None
        yield
        if task is not None:
            task.cancel()

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(FaultMiddleware, sandbox=sandbox, faults=faults)],
    )


async def _deliver_loop(sandbox: Sandbox, every: float) -> None:
    while True:
        try:
            sandbox.tick()
            await sandbox.webhooks.deliver_due()
        except Exception:  # keep delivering; the next round retries
            log.exception("webhook delivery round failed")
        await asyncio.sleep(every)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), so the URL is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio: TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def public_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_config(
    sock: socket.socket,
    db_path: Path,
    settings: Settings,
    deliver_every: float | None = 1.0,
    log_level: str = "info",
) -> tuple[uvicorn.Config, Sandbox]:
    """uvicorn's config for the sandbox on ``sock``, accepting verkstad's configured credentials."""
    sandbox = Sandbox(Store(db_path), SandboxConfig.from_settings(settings, public_url(sock)))
    config = uvicorn.Config(
        build_app(sandbox, deliver_every),
        log_level=log_level,
        access_log=log_level == "debug",
        lifespan="on",
        server_header=False,
    )
    return config, sandbox
