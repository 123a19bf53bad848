"""Orders in the states the books' tests start from (built through the real services)."""

from __future__ import annotations

from tests.helpers import order_with_lines
from tests.ledger.fakes import FakeProvider
from verkstad.db import Database
from verkstad.mpay import service as mpay
from verkstad.orders import service
from verkstad.users import Actor


def klart(db: Database, actor: Actor, method: str = "FAKTURA", customer: int | None = None) -> int:
    """The worked example, KLART with a payment method set."""
    order = order_with_lines(db, actor, customer)
    service.complete(db, actor, order.number)
    service.update_order(db, actor, order.number, payment_method=method)
    return order.number


def paid_by_mobile(
    db: Database, actor: Actor, provider: FakeProvider, customer: int | None = None
) -> int:
    """The worked example sent as a payment SMS and paid: MOBILBET, MOBIL, received."""
    order = order_with_lines(db, actor, customer)
    service.complete(db, actor, order.number)
    mpay.send(db, provider, actor, order.number)
    provider.pay(list(provider.payments)[-1])
    mpay.check(db, provider, actor, order.number)
    return order.number
