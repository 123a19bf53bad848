"""Adapters by name: ``get_provider("vipps", settings)`` (each holds its own connection pool)."""

from __future__ import annotations

from collections.abc import Callable

from verkstad.config import Settings
from verkstad.errors import ConfigError
from verkstad.i18n import _
from verkstad.mpay.providers.base import PaymentProvider
from verkstad.mpay.providers.resurs import ResursProvider
from verkstad.mpay.providers.stripe import StripeProvider
from verkstad.mpay.providers.swish import SwishProvider
from verkstad.mpay.providers.vipps import VippsProvider

PROVIDERS = ("vipps", "swish", "stripe", "resurs")

_ADAPTERS: dict[str, Callable[[Settings], PaymentProvider]] = {
    "vipps": VippsProvider,
    "swish": SwishProvider,
    "stripe": StripeProvider,
    "resurs": ResursProvider,
}


def get_provider(name: str, settings: Settings) -> PaymentProvider:
    """A new adapter for ``name``, configured from ``settings`` (the sandbox unless set)."""
    try:
        factory = _ADAPTERS[name]
    except KeyError:
        raise ConfigError(
            _("Unknown payment provider {name}; use one of: {choices}").format(
                name=name, choices=", ".join(PROVIDERS)
            )
        ) from None
    return factory(settings)
