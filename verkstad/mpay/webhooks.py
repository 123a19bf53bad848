"""Provider callbacks: ``verkstad callbacks serve``.

Each callback is verified with its provider's own scheme (the adapter's
``verify_callback``); forged and stale ones get 401. A verified callback is
only a hint: the payment is re-fetched from the provider and the same state
machine as polling decides, so duplicates and out-of-order deliveries change
nothing. A payment we do not (yet) know gets 503, so the provider retries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from verkstad.clock import now
from verkstad.config import Settings
from verkstad.db import Database
from verkstad.errors import DomainError, NotFoundError
from verkstad.mpay.channels import PROVIDER_NAMES
from verkstad.mpay.gateway import Providers
from verkstad.mpay.providers.base import CallbackRejected
from verkstad.users import SYSTEM


def handle_callback(
    db: Database,
    providers: Providers,
    provider: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
) -> str:
    """Verify a callback and re-fetch the payment it is about; returns its state after.

    Blocking work (a Stripe event may name only a PaymentIntent, whose session
    the adapter looks up): callers off the event loop run it in a thread.
    """
    from verkstad.mpay.service import refresh, request_by_provider_ref

    event = providers(provider).verify_callback(path, headers, body, now())
    request_id = request_by_provider_ref(db, provider, event.provider_ref)
    if request_id is None:
        raise NotFoundError(f"unknown {provider} payment {event.provider_ref}")
    return refresh(db, providers, SYSTEM, request_id).state.value


def build_app(db: Database, settings: Settings) -> Starlette:
    providers = Providers(settings)

    async def receive(request: Request) -> JSONResponse:
        name = request.path_params["provider"]
        if name not in PROVIDER_NAMES:
            return JSONResponse({"error": "unknown provider"}, status_code=404)
        body = await request.body()  # the raw bytes: signatures are over them
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            state = await run_in_threadpool(
                handle_callback, db, providers, name, path, headers, body
            )
        except CallbackRejected as e:
            return JSONResponse({"error": str(e)}, status_code=401)
        except DomainError as e:  # unknown payment, provider or database away: retry later
            return JSONResponse({"error": str(e)}, status_code=503)
        return JSONResponse({"state": state})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        providers.close()

    return Starlette(
        routes=[Route("/callbacks/{provider}", receive, methods=["POST"])], lifespan=lifespan
    )


def serve(db: Database, settings: Settings, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(build_app(db, settings), host=host, port=port, log_level="warning")
