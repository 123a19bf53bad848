"""Cancelling an open payment request by its id, as the payments list does."""

import pytest

from tests.helpers import customer, order_with_lines
from verkstad.errors import DomainError
from verkstad.money import Money
from verkstad.mpay.payments import get_payment
from verkstad.mpay.providers.base import PaymentRequest, ProviderStatus
from verkstad.mpay.service import SendForm, cancel_request, request_payment, send
from verkstad.mpay.status import PaymentState
from verkstad.orders import service
from verkstad.orders.status import OrderStatus


class FakeResurs:
    """Just enough of a provider to create a request and cancel it."""

    name = "resurs"

    def __init__(self) -> None:
        self.states: dict[str, PaymentState] = {}
        self.cancelled: list[str] = []

    def _status(self, ref: str) -> ProviderStatus:
        return ProviderStatus(ref, self.states[ref], Money(50_000))

    def create(self, request: PaymentRequest) -> ProviderStatus:
        ref = f"rs-{len(self.states) + 1}"
        self.states[ref] = PaymentState.SENT
        return self._status(ref)

    def status(self, provider_ref: str) -> ProviderStatus:
        return self._status(provider_ref)

    def cancel(self, provider_ref: str, idempotency_key: str) -> ProviderStatus:
        self.cancelled.append(provider_ref)
        self.states[provider_ref] = PaymentState.CANCELLED
        return self._status(provider_ref)


@pytest.fixture
def provider() -> FakeResurs:
    """A fresh database's one channel, "M-Pay", is Resurs."""
    return FakeResurs()


def test_a_free_request_is_cancelled_at_the_provider(db, admin, provider):
    number = customer(db, admin)
    sent = request_payment(
        db, lambda _name: provider, admin, number, SendForm(amount="500", reference="Handpenning")
    )
    assert sent.state == PaymentState.SENT and sent.order_number is None

    view = cancel_request(db, lambda _name: provider, admin, sent.id)

    assert view.state == PaymentState.CANCELLED
    assert provider.cancelled == ["rs-1"]
    assert [e.kind for e in get_payment(db, sent.id).events][-2:] == [
        "cancel_requested",
        "cancelled",
    ]


def test_only_an_open_request_can_be_cancelled(db, admin, provider):
    number = customer(db, admin)
    sent = request_payment(db, lambda _name: provider, admin, number, SendForm(amount="500"))
    cancel_request(db, lambda _name: provider, admin, sent.id)

    with pytest.raises(DomainError, match="only an open request can be cancelled"):
        cancel_request(db, lambda _name: provider, admin, sent.id)
    assert provider.cancelled == ["rs-1"]


def test_an_orders_request_is_cancelled_as_the_orders_and_the_order_opens(db, admin, provider):
    order = order_with_lines(db, admin)
    service.complete(db, admin, order.number)
    sent = send(db, lambda _name: provider, admin, order.number)
    assert service.get_order(db, order.number).status == OrderStatus.MPAY

    view = cancel_request(db, lambda _name: provider, admin, sent.id)

    assert view.state == PaymentState.CANCELLED
    assert service.get_order(db, order.number).status == OrderStatus.DONE


def test_an_unknown_payment_is_refused(db, admin, provider):
    with pytest.raises(DomainError, match="There is no payment 99"):
        cancel_request(db, lambda _name: provider, admin, 99)
