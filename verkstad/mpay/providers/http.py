"""HTTP plumbing the adapters share: pooled httpx clients with explicit timeouts, and the
mapping of transport trouble onto ``ProviderUnavailable`` (the outcome is unknown).

Messages name the provider and what went wrong, never a header, a token or a
secret; the httpx exception is not chained for the same reason.
"""

from __future__ import annotations

import functools
import json
import re
import ssl
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from verkstad.i18n import _
from verkstad.mpay.providers.base import ProviderRefused, ProviderUnavailable

USER_AGENT = "verkstad/0.1"


class ServerError(ProviderUnavailable):
    """A 5xx answer (the outcome is unknown); ``response`` for adapters that look closer."""

    def __init__(self, message: str, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response


# Connections each adapter keeps open. At least the polling concurrency (mpay.service
# POLL_CONCURRENCY): with fewer kept alive, every round of polling closed the surplus and
# opened them again (a TCP, or TLS, handshake per call instead of one per connection).
POOL_SIZE = 10


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """The default verifying TLS context (read-only once made; shared by clients without a
    client certificate of their own)."""
    return ssl.create_default_context()


def make_client(
    base_url: str,
    timeout_seconds: float,
    *,
    cert: tuple[str, str] | None = None,
    verify: str | bool | ssl.SSLContext = True,
    auth: httpx.Auth | tuple[str, str] | None = None,
) -> httpx.Client:
    """One pooled client per adapter: keep-alive connections, every phase bounded in time."""
    if verify is True and cert is None:
        verify = _default_tls()  # loading the system's CAs takes ~40 ms: once per process
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
        limits=httpx.Limits(
            max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE, keepalive_expiry=30
        ),
        cert=cert,
        verify=verify,
        auth=auth,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


def send(client: httpx.Client, label: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request; transport errors, 429 and 5xx become ProviderUnavailable."""
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        raise ProviderUnavailable(
            _("{provider} did not answer in time.").format(provider=label)
        ) from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        raise ProviderUnavailable(
            _("The connection to {provider} broke before its answer arrived.").format(
                provider=label
            )
        ) from None
    except httpx.HTTPError:
        raise ProviderUnavailable(
            _("{provider} could not be reached.").format(provider=label)
        ) from None
    if response.status_code == 429:
        raise ProviderUnavailable(
            _("{provider} is busy (too many requests); try again in a minute.").format(
                provider=label
            )
        )
    if response.status_code >= 500:
        raise ServerError(
            _("{provider} had an internal error (HTTP {status}).").format(
                provider=label, status=response.status_code
            ),
            response,
        )
    return response


def read_json(response: httpx.Response, label: str) -> Any:
    """The body as JSON, numbers with a fraction as Decimal (never float for money).

    An unreadable success answer leaves the outcome unknown; an unreadable
    refusal is still a refusal.
    """
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        if response.is_success:
            raise ProviderUnavailable(
                _("{provider} sent an answer that could not be read.").format(provider=label)
            ) from None
        raise ProviderRefused(
            _("{provider} refused the request (HTTP {status}).").format(
                provider=label, status=response.status_code
            ),
            str(response.status_code),
        ) from None


def refuse_credentials(response: httpx.Response, label: str) -> None:
    """401/403: verkstad's credentials are wrong; nothing happened at the provider."""
    if response.status_code in (401, 403):
        raise ProviderRefused(
            _("{provider} did not accept verkstad's credentials; check the settings.").format(
                provider=label
            ),
            str(response.status_code),
        )


_DECIMAL = re.compile(r'"\\u00a7(-?[0-9]+(?:\.[0-9]+)?)\\u00a7"')


def exact_json(data: Any) -> bytes:
    """JSON with Decimal written as an exact number (1250.00), for APIs that want numbers."""

    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return f"\u00a7{o}\u00a7"
        raise TypeError(type(o).__name__)

    return _DECIMAL.sub(r"\1", json.dumps(data, default=default)).encode()


def minor_units(value: Any) -> int:
    """An exact decimal major amount (Decimal, "100.00", 100) in minor units."""
    amount = Decimal(str(value))
    minor = amount * 100
    if minor != minor.to_integral_value():
        raise ProviderUnavailable(_("A provider sent an amount with more than two decimals."))
    return int(minor)


class TokenCache:
    """An access token reused until shortly before it expires (or until the provider says 401)."""

    MARGIN_SECONDS = 60

    def __init__(self, fetch: Callable[[], tuple[str, float]]) -> None:
        self._fetch = fetch  # returns (token, lifetime in seconds)
        self._token: str | None = None
        self._until = 0.0

    def get(self) -> str:
        if self._token is None or time.monotonic() >= self._until:
            token, lifetime = self._fetch()
            self._token, self._until = token, time.monotonic() + lifetime - self.MARGIN_SECONDS
        return self._token

    def forget(self) -> None:
        self._token = None
