"""Cancelling an open payment request by its id, as the payments list does (sandbox, HTTP)."""

from collections.abc import Iterator

import pytest

from tests.helpers import customer, order_with_lines
from tests.mpay.only_channel import use_only_channel
from verkstad.errors import DomainError
from verkstad.mpay.gateway import Providers
from verkstad.mpay.models import PaymentRequest
from verkstad.mpay.payments import get_payment
from verkstad.mpay.service import SendForm, cancel_request, request_payment, send
from verkstad.mpay.status import PaymentState
from verkstad.orders import service
from verkstad.orders.status import OrderStatus


@pytest.fixture
def providers(db, admin, settings) -> Iterator[Providers]:
    """Swish on the sandbox is the one channel (any provider would do)."""
    use_only_channel(db, admin, "swish")
    opened = Providers(settings)
    yield opened
    opened.close()


def test_a_free_request_is_cancelled_at_the_provider(db, admin, providers):
    number = customer(db, admin)
    sent = request_payment(db, providers, admin, number, SendForm(amount="500", reference="D-1"))
    assert sent.state == PaymentState.SENT and sent.order_number is None

    view = cancel_request(db, providers, admin, sent.id)

    assert view.state == PaymentState.CANCELLED  # what the provider answered
    assert providers("swish").status(get_provider_ref(db, sent.id)).state == PaymentState.CANCELLED
    assert [e.kind for e in get_payment(db, sent.id).events][-2:] == [
        "cancel_requested",
        "cancelled",
    ]


def test_only_an_open_request_can_be_cancelled(db, admin, providers):
    number = customer(db, admin)
    sent = request_payment(db, providers, admin, number, SendForm(amount="500"))
    cancel_request(db, providers, admin, sent.id)

    with pytest.raises(DomainError, match="only an open request can be cancelled"):
        cancel_request(db, providers, admin, sent.id)


def test_an_orders_request_is_cancelled_as_the_orders_and_the_order_opens(db, admin, providers):
    order = order_with_lines(db, admin)
    service.complete(db, admin, order.number)
    sent = send(db, providers, admin, order.number)
    assert service.get_order(db, order.number).status == OrderStatus.MPAY

    view = cancel_request(db, providers, admin, sent.id)

    assert view.state == PaymentState.CANCELLED
    assert service.get_order(db, order.number).status == OrderStatus.DONE


def test_an_unknown_payment_is_refused(db, admin, providers):
    with pytest.raises(DomainError, match="There is no payment 99"):
        cancel_request(db, providers, admin, 99)


def get_provider_ref(db, request_id: int) -> str:
    with db.read() as s:
        req = s.get(PaymentRequest, request_id)
        assert req is not None and req.provider_ref is not None
        return req.provider_ref
