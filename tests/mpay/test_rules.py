"""M-Pay rules: channels, fields, roles, and one request per order on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import select

from tests.helpers import customer, order_with_lines
from verkstad.audit import AuditEvent
from verkstad.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    PermissionDenied,
    ValidationError,
)
from verkstad.mpay import service as mpay
from verkstad.mpay.channels import add_channel
from verkstad.mpay.gateway import Providers
from verkstad.mpay.models import PaymentChannel
from verkstad.mpay.payments import consolidate, mark_read, payments_of_order
from verkstad.mpay.service import SendForm
from verkstad.mpay.status import PaymentState as P
from verkstad.orders import service
from verkstad.users import Actor, Role

ANNA = Actor("anna", Role.STAFF)
BENGT = Actor("bengt", Role.PAYMENT_MANAGER)


def _ready(db, admin) -> int:
    number = order_with_lines(db, admin, customer(db, admin, phone="070-123 45 67")).number
    service.complete(db, admin, number)
    return number


def _channels_off(db) -> None:
    with db.session() as s:
        for channel in s.exec(select(PaymentChannel)):
            channel.active = False


def test_no_channel_one_channel_or_a_choice(db, admin, settings):
    providers = Providers(settings)
    order = _ready(db, admin)
    _channels_off(db)
    with pytest.raises(DomainError, match="No payment channels are defined"):
        mpay.send(db, providers, admin, order)
    add_channel(db, admin, "Vipps kassa", "vipps", users=("bengt",))
    with pytest.raises(DomainError, match="No payment channels"):  # not anna's, and no refunds
        mpay.send(db, providers, ANNA, order)
    add_channel(db, admin, "Resurs", "resurs")
    assert mpay.send(db, providers, ANNA, order).channel == "Resurs"  # the only one that fits
    mpay.cancel(db, providers, ANNA, order)
    add_channel(db, admin, "Stripe-länk", "stripe")
    with pytest.raises(ValidationError, match="Channel: choose one of: Resurs, Stripe-länk"):
        mpay.send(db, providers, ANNA, order)
    with pytest.raises(NotFoundError, match="no usable channel called Vipps kassa"):
        mpay.send(db, providers, ANNA, order, SendForm(channel="Vipps kassa"))
    assert (
        mpay.send(db, providers, ANNA, order, SendForm(channel="stripe-länk")).channel
        == "Stripe-länk"
    )
    providers.close()


def test_fields_are_validated_and_nothing_is_sent(db, admin, settings, sandbox):
    providers = Providers(settings)
    order = _ready(db, admin)
    cases = [
        (SendForm(explanation="x" * 501), "Explanation: at most 500 characters"),
        (SendForm(phone="070-12"), "Mobile phone: is not a valid phone number"),
        (SendForm(sms=False, email=False), "Delivery: choose SMS, e-mail or both"),
        (SendForm(email=True), "E-mail: is not enabled"),
        (SendForm(reference="   "), "Reference: is required"),
    ]
    for form, message in cases:
        with pytest.raises(ValidationError, match=message):
            mpay.send(db, providers, admin, order, form)
    assert payments_of_order(db, order) == []
    assert service.get_order(db, order).status.value == "KLART"
    assert sandbox.sandbox.store.live_payments() == []
    first = mpay.send(db, providers, admin, order, SendForm(reference="Återbetalning Åsa 1 – ΔΣ"))
    assert first.reference == "Återbetalning Åsa 1 – ΔΣ"  # any alphabet, spaces
    mpay.cancel(db, providers, admin, order)
    with pytest.raises(ValidationError, match="already used"):
        mpay.send(db, providers, admin, order, SendForm(reference="Återbetalning Åsa 1 – ΔΣ"))
    providers.close()


def test_only_a_klart_order_can_be_sent(db, admin, settings):
    providers = Providers(settings)
    open_order = order_with_lines(db, admin).number
    with pytest.raises(DomainError, match="not possible for an order in status ÖPPEN"):
        mpay.send(db, providers, admin, open_order)
    providers.close()


def test_free_payment_request_from_the_customer_card(db, admin, settings, sandbox):
    providers = Providers(settings)
    number = customer(db, admin)
    view = mpay.request_payment(
        db,
        providers,
        admin,
        number,
        SendForm(amount="5 000", reference="Handpenning Volvo V70", explanation="Handpenning"),
    )
    assert (view.order_number, view.amount_minor, view.state) == (None, 500_000, P.SENT)
    with pytest.raises(ValidationError, match="Amount: must be more than zero"):
        mpay.request_payment(db, providers, admin, number, SendForm(amount="0"))
    providers.close()


def test_mark_read_own_only_and_consolidate_for_payment_managers(db, admin, settings, sandbox):
    providers = Providers(settings)
    order = _ready(db, admin)
    view = mpay.send(db, providers, ANNA, order)
    sandbox.act(view.reference, "approve")
    if mpay.check(db, providers, ANNA, order).state == P.RESERVED:
        mpay.capture(db, providers, ANNA, order)
    with pytest.raises(PermissionDenied, match="Only anna"):
        mark_read(db, BENGT, view.id)
    mark_read(db, ANNA, view.id)
    with pytest.raises(PermissionDenied):
        consolidate(db, ANNA, view.id)
    with pytest.raises(PermissionDenied):
        consolidate(db, admin, view.id)
    consolidate(db, BENGT, view.id)
    [after] = payments_of_order(db, order)
    assert after.read and after.consolidated_by == "bengt"
    with db.read() as s:
        events = s.exec(select(AuditEvent)).all()
    actions = {(e.entity, e.entity_id, e.action) for e in events}
    assert {
        ("payment", view.reference, "mark_read"),
        ("payment", view.reference, "consolidate"),
    } <= actions
    assert ("payment", view.reference, "mark_read_refused") in actions
    assert ("permission", "consolidate", "refused") in actions
    providers.close()


@pytest.mark.postgres
def test_two_terminals_on_postgres_make_one_request(pg_db, admin, settings):
    order = _ready(pg_db, admin)
    terminals = [Providers(settings), Providers(settings)]

    def press_ctrl_s(i: int) -> str:
        try:
            mpay.send(pg_db, terminals[i], Actor(f"kassa{i}", Role.STAFF), order)
        except ConflictError as e:
            return str(e)
        return "sent"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(press_ctrl_s, range(2)))
    assert outcomes[1] == "sent" and "already sent by kassa" in outcomes[0]
    assert len(payments_of_order(pg_db, order)) == 1
    for providers in terminals:
        providers.close()
