"""The configured provider adapters of one process, created on first use and then kept
(each holds an HTTP connection pool)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verkstad.config import Settings
    from verkstad.mpay.providers.base import PaymentProvider


class Providers:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._open: dict[str, PaymentProvider] = {}

    def __call__(self, name: str) -> PaymentProvider:
        if name not in self._open:
            from verkstad.mpay.providers.registry import get_provider

            self._open[name] = get_provider(name, self.settings)
        return self._open[name]

    def close(self) -> None:
        for provider in self._open.values():
            provider.close()
        self._open.clear()
