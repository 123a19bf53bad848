"""End to end over the sandbox: paid by M-Pay, posted, settled from the provider's own report."""

from __future__ import annotations

from datetime import timedelta

from tests.mpay.conftest import Shop
from verkstad.ledger.credit import credit_order
from verkstad.ledger.journal import balance
from verkstad.ledger.posting import post_order
from verkstad.ledger.settlement import import_settlement
from verkstad.mpay import service as mpay
from verkstad.mpay.status import PaymentState as P
from verkstad.sandbox.settlement import PROVIDER_ZONE


def settle(shop: Shop, sandbox) -> list[str]:
    """Import the provider's report of the payouts in the next two weeks; the lines' outcomes."""
    day = sandbox.sandbox.now().astimezone(PROVIDER_ZONE).date()
    end = day + timedelta(days=14)  # every provider has paid out by then
    text = sandbox.control(
        "GET", f"/_sandbox/settlement?provider={shop.provider}&from={day}&to={end}"
    )
    result = import_settlement(shop.db, shop.actor, text.encode(), f"{shop.provider}.csv")
    return [o.status for o in result.outcomes]


def test_paid_posted_settled_credited(shop: Shop, sandbox):
    order = shop.order()
    view = mpay.send(shop.db, shop.providers, shop.actor, order)
    sandbox.act(view.reference, "approve")
    view = mpay.check(shop.db, shop.providers, shop.actor, order)
    if view.state == P.RESERVED:
        view = mpay.capture(shop.db, shop.providers, shop.actor, order)
    assert view.state == P.PAID
    posted = post_order(shop.db, shop.actor, order)
    clearing = posted.rows[0].account
    assert clearing == "1931" and balance(shop.db, "1931") == posted.total_minor
    assert settle(shop, sandbox) == ["booked"]
    assert balance(shop.db, "1931") == 0
    assert settle(shop, sandbox) == ["already_booked"]
    credit = credit_order(shop.db, shop.providers, shop.actor, order)
    assert credit.refund_minor == posted.total_minor
    assert balance(shop.db, "1931") == -posted.total_minor  # owed back until the payout
    assert sorted(settle(shop, sandbox)) == ["already_booked", "booked"]
    assert balance(shop.db, "1931") == 0
