"""The seed-002 workflow for every provider, against the sandbox over HTTP."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from freezegun import freeze_time

from tests.mpay.conftest import Shop, phone_for
from verkstad.clock import now
from verkstad.errors import ConflictError, DomainError, ValidationError
from verkstad.mpay import service as mpay
from verkstad.mpay.notify import deliver_pending
from verkstad.mpay.senders import senders
from verkstad.mpay.status import PaymentState as P
from verkstad.orders import service
from verkstad.orders.service import LineInput
from verkstad.orders.status import OrderStatus
from verkstad.sandbox.core import SandboxError


def pay(shop: Shop, sandbox, order: int) -> mpay.PaymentView:
    """The customer opens the link and approves; staff check (and capture a reservation)."""
    view = mpay.send(shop.db, shop.providers, shop.actor, order)
    sandbox.act(view.reference, "open")
    # "opened" is visible only where the provider's API reports it (Vipps and Swish don't)
    assert mpay.check(shop.db, shop.providers, shop.actor, order).state in (P.SENT, P.OPENED)
    sandbox.act(view.reference, "approve")
    view = mpay.check(shop.db, shop.providers, shop.actor, order)
    if view.state == P.RESERVED:
        view = mpay.capture(shop.db, shop.providers, shop.actor, order)
    assert view.state == P.PAID
    return view


def test_send_locks_the_order_and_the_customer_gets_it(shop: Shop, sandbox, settings):
    order = shop.order()
    view = mpay.send(shop.db, shop.providers, shop.actor, order)
    assert (
        view.state == P.SENT
        and view.amount_minor == service.get_order(shop.db, order).totals.payable
    )
    assert service.get_order(shop.db, order).status == OrderStatus.MPAY
    if shop.provider == "stripe":  # a link we text ourselves, through the outbox
        assert deliver_pending(shop.db, senders(settings)) == 1
    texts = sandbox.phone(phone_for(shop.provider))["messages"]
    assert texts, "the customer's phone got nothing"
    with pytest.raises(DomainError, match="locked"):
        service.add_line(shop.db, shop.actor, order, LineInput("Olja"))


def test_paid_sets_mobil_received_and_the_providers_time(shop: Shop, sandbox):
    order = shop.order()
    view = mpay.send(shop.db, shop.providers, shop.actor, order)
    sandbox.act(view.reference, "approve")
    paid_around = now()
    if mpay.check(shop.db, shop.providers, shop.actor, order).state == P.RESERVED:
        mpay.capture(shop.db, shop.providers, shop.actor, order)  # the money moves now
    with freeze_time(paid_around + timedelta(days=1)):  # someone checks again the next day
        view = mpay.check(shop.db, shop.providers, shop.actor, order)
    result = service.get_order(shop.db, order)
    assert view.state == P.PAID
    assert (result.payment_method, result.payment_received) == ("MOBIL", True)
    assert result.payment_received_at == view.paid_at
    assert abs(result.payment_received_at - paid_around) < timedelta(minutes=5)  # not the check's


def test_cancel_before_payment_kills_the_link(shop: Shop, sandbox):
    order = shop.order()
    view = mpay.send(shop.db, shop.providers, shop.actor, order)
    cancelled = mpay.cancel(shop.db, shop.providers, shop.actor, order)
    assert cancelled.state == P.CANCELLED
    assert service.get_order(shop.db, order).status == OrderStatus.DONE
    with pytest.raises((httpx.HTTPStatusError, SandboxError)):
        sandbox.act(view.reference, "approve")  # the customer's link no longer works
    assert mpay.check(shop.db, shop.providers, shop.actor, order).state == P.CANCELLED


def test_cancel_after_payment_refunds_and_reopens(shop: Shop, sandbox):
    order = shop.order()
    pay(shop, sandbox, order)
    view = mpay.cancel(shop.db, shop.providers, shop.actor, order)
    assert view.state == P.REFUNDED and view.refunded_minor == view.captured_minor > 0
    result = service.get_order(shop.db, order)
    assert result.status == OrderStatus.DONE
    assert (result.payment_method, result.payment_received, result.payment_received_at) == (
        None,
        False,
        None,
    )


def test_resend_after_edit_and_only_one_live_request(shop: Shop, sandbox):
    order = shop.order()
    first = mpay.send(shop.db, shop.providers, shop.actor, order)
    with pytest.raises(ConflictError, match="already sent by admin"):
        mpay.send(shop.db, shop.providers, shop.actor, order)
    mpay.cancel(shop.db, shop.providers, shop.actor, order)
    service.add_line(shop.db, shop.actor, order, LineInput("Torkarblad", "2", "249"))
    second = mpay.send(shop.db, shop.providers, shop.actor, order)
    assert second.reference != first.reference and second.amount_minor > first.amount_minor
    sandbox.act(second.reference, "approve")
    view = mpay.check(shop.db, shop.providers, shop.actor, order)
    assert view.state in (P.PAID, P.RESERVED)


def test_partial_refund_never_above_captured(shop: Shop, sandbox):
    order = shop.order()
    paid = pay(shop, sandbox, order)
    view = mpay.refund(shop.db, shop.providers, shop.actor, paid.id, "100")
    assert view.state == P.PARTIALLY_REFUNDED and view.refunded_minor == 10_000
    with pytest.raises(ValidationError, match="at most"):
        mpay.refund(shop.db, shop.providers, shop.actor, paid.id, "10 000")
    view = mpay.refund(shop.db, shop.providers, shop.actor, paid.id)  # the rest
    assert view.state == P.REFUNDED and view.refunded_minor == view.captured_minor


def test_declined(shop: Shop, sandbox, settings):
    order = shop.order(phone_for(shop.provider, "99903"))
    mpay.send(shop.db, shop.providers, shop.actor, order)
    deliver_pending(shop.db, senders(settings))  # a Stripe link reaches the phone by our SMS
    view = mpay.check(shop.db, shop.providers, shop.actor, order)
    if shop.provider == "stripe":  # a declined card leaves the link open for another try
        assert view.state in (P.SENT, P.OPENED, P.IN_PROGRESS) and view.failed_attempts >= 1
        return
    assert view.state in (P.DECLINED, P.FAILED)
    assert service.get_order(shop.db, order).status == OrderStatus.DONE  # can be sent again


def test_expired(shop: Shop, sandbox):
    order = shop.order(phone_for(shop.provider, "99904"))
    mpay.send(shop.db, shop.providers, shop.actor, order)
    sandbox.advance(days=2)
    view = mpay.check(shop.db, shop.providers, shop.actor, order)
    assert view.state in (P.EXPIRED, P.FAILED)
    assert service.get_order(shop.db, order).status == OrderStatus.DONE


def test_not_registered_number_fails_and_the_order_stays_klart(shop: Shop, sandbox):
    order = shop.order(phone_for(shop.provider, "99901"))
    if shop.provider in ("vipps", "swish"):
        with pytest.raises(DomainError, match=r"not connected to (Vipps|Swish)"):
            mpay.send(shop.db, shop.providers, shop.actor, order)
        from verkstad.mpay.payments import payments_of_order

        [view] = payments_of_order(shop.db, order)
        assert view.state == P.FAILED and view.failure_reason
    else:  # a link by SMS: the number gets the link whatever wallet it has
        assert mpay.send(shop.db, shop.providers, shop.actor, order).state == P.SENT
        mpay.cancel(shop.db, shop.providers, shop.actor, order)
    assert service.get_order(shop.db, order).status == OrderStatus.DONE


def test_manual_mobile_payment(db, admin):
    from tests.helpers import order_with_lines

    order = order_with_lines(db, admin).number
    with pytest.raises(DomainError, match="KLART"):
        mpay.record_manual(db, admin, order, "Swish 14:05")
    service.complete(db, admin, order)
    with pytest.raises(ValidationError, match="Note"):
        mpay.record_manual(db, admin, order, "  ")
    mpay.record_manual(db, admin, order, "Swish till 123 456 78 90 kl 14:05")
    result = service.get_order(db, order)
    assert (result.payment_method, result.payment_received) == ("MANUELL_MOBIL", True)
    assert service.order_history(db, order)[-1]["reason"].startswith("Swish till")


def test_cancel_refused_while_the_customer_approves_keeps_the_lock(db, admin, settings, sandbox):
    """Vipps: "Cannot cancel pending" — the push is still usable, so the order stays locked."""
    from tests.mpay.conftest import Shop
    from verkstad.mpay.channels import add_channel
    from verkstad.mpay.gateway import Providers

    service.update_company(db, admin, country="NO")
    add_channel(db, admin, "Vipps", "vipps")
    shop = Shop(db, admin, Providers(settings), "vipps")
    order = shop.order()
    view = mpay.send(db, shop.providers, admin, order, mpay.SendForm(channel="Vipps"))
    sandbox.act(view.reference, "start")  # the customer is approving in the app right now
    with pytest.raises(DomainError, match="stays locked"):
        mpay.cancel(db, shop.providers, admin, order)
    assert service.get_order(db, order).status == OrderStatus.MPAY
    assert mpay.check(db, shop.providers, admin, order).state in (P.SENT, P.IN_PROGRESS)
    shop.providers.close()
