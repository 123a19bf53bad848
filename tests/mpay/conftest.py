"""M-Pay against the sandbox over real HTTP: an order ready to pay, per provider."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from verkstad.db import Database
from verkstad.mpay.channels import add_channel
from verkstad.mpay.gateway import Providers
from verkstad.orders import service
from verkstad.orders.service import CustomerInput, LineInput
from verkstad.users import Actor

PROVIDERS = ("resurs", "vipps", "swish", "stripe")
# An ordinary customer per provider's country; the scripted ones differ in the last 5 digits.
PHONES = {"vipps": "+4791234567", "default": "+46701234567"}
SCENARIO_PHONES = {"vipps": "+47912{}", "default": "+467012{}"}


def phone_for(provider: str, suffix: str | None = None) -> str:
    if suffix is None:
        return PHONES.get(provider, PHONES["default"])
    return SCENARIO_PHONES.get(provider, SCENARIO_PHONES["default"]).format(suffix)


@dataclass
class Shop:
    """A workshop set up for one provider: a channel of its own, providers on the sandbox."""

    db: Database
    actor: Actor
    providers: Providers
    provider: str

    def order(self, phone: str | None = None, email: str = "asa@example.se") -> int:
        number = service.create_customer(
            self.db,
            self.actor,
            CustomerInput("Åsa Öberg", phone or phone_for(self.provider), email),
        ).number
        order = service.create_order(self.db, self.actor, number)
        service.add_line(
            self.db, self.actor, order.number, LineInput("Bromsbelägg", "1", "1 199,20")
        )
        service.add_line(
            self.db, self.actor, order.number, LineInput("Arbete", "1", "1 850", kind="labour")
        )
        service.complete(self.db, self.actor, order.number)
        return order.number


@pytest.fixture(params=PROVIDERS)
def shop(request: pytest.FixtureRequest, db: Database, admin: Actor, settings) -> Iterator[Shop]:
    provider = request.param
    if provider == "vipps":  # Vipps takes NOK
        service.update_company(db, admin, country="NO")
    with db.session() as s:  # this provider's channel is the only active one
        from sqlmodel import select

        from verkstad.mpay.models import PaymentChannel

        for channel in s.exec(select(PaymentChannel)):
            channel.active = False
    add_channel(db, admin, f"{provider}-kanal", provider, sms=True)
    providers = Providers(settings)
    yield Shop(db, admin, providers, provider)
    providers.close()
