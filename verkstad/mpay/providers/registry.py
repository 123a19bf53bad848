"""Adapters by name: ``get_provider("vipps", settings)``; ``providers_for(settings)`` caches one
adapter (and its connection pool) per provider for a whole session.
"""

from __future__ import annotations

from collections.abc import Callable

from verkstad.config import Settings
from verkstad.errors import ConfigError
from verkstad.i18n import _
from verkstad.mpay.providers.base import PaymentProvider
from verkstad.mpay.providers.resurs import ResursProvider
from verkstad.mpay.providers.sms import SmsGateway
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


def providers_for(settings: Settings) -> Callable[[str], PaymentProvider]:
    """``name -> adapter``, each made once and then reused (call ``.close()`` on each at exit)."""
    made: dict[str, PaymentProvider] = {}

    def provider(name: str) -> PaymentProvider:
        if name not in made:
            made[name] = get_provider(name, settings)
        return made[name]

    return provider


def get_sms_gateway(settings: Settings) -> SmsGateway:
    return SmsGateway(settings)
