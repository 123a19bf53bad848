"""A refusal is recorded with the request locked before its operation is ended.

Every unit of work that changes a payment request and its operation locks the request
first; one that ended the operation first deadlocked against another terminal holding
the request (the PostgreSQL race found it in a refused capture). The statements each
unit of work sends show the order on any database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.mpay.conftest import Shop
from verkstad.errors import DomainError
from verkstad.mpay import service as mpay
from verkstad.mpay.providers.base import ProviderRefused
from verkstad.mpay.status import PaymentState as P


@contextmanager
def statements(shop: Shop) -> Iterator[list[str]]:
    sent: list[str] = []

    def seen(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        sent.append(" ".join(statement.split()).lower())

    event.listen(shop.db.engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(shop.db.engine, "before_cursor_execute", seen)


def refusal_unit(sent: list[str]) -> list[str]:
    """The statements of the unit of work that ended the operation as refused."""
    end = next(i for i, q in enumerate(sent) if q.startswith("update payment_operations"))
    begin = max(i for i, q in enumerate(sent[:end]) if q.startswith("begin"))
    return sent[begin : end + 1]


def locks_the_request_first(unit: list[str]) -> bool:
    return any(q.startswith("select") and "from payment_requests" in q for q in unit)


def refuse(shop: Shop, monkeypatch: pytest.MonkeyPatch, call: str) -> None:
    def refused(*_args: object) -> None:
        raise ProviderRefused("Refused by the provider")

    monkeypatch.setattr(shop.providers(shop.provider), call, refused)


@pytest.mark.parametrize("shop", ["vipps"], indirect=True)
def test_a_refused_capture_locks_the_request_first(shop: Shop, sandbox, monkeypatch):
    order = shop.order()
    view = mpay.send(shop.db, shop.providers, shop.actor, order)
    sandbox.act(view.reference, "approve")
    assert mpay.check(shop.db, shop.providers, shop.actor, order).state == P.RESERVED
    refuse(shop, monkeypatch, "capture")
    with statements(shop) as sent, pytest.raises(DomainError, match="capture was refused"):
        mpay.capture(shop.db, shop.providers, shop.actor, order)
    assert locks_the_request_first(refusal_unit(sent)), sent


@pytest.mark.parametrize("shop", ["swish"], indirect=True)
def test_a_refused_cancel_locks_the_request_first(shop: Shop, monkeypatch):
    order = shop.order()
    mpay.send(shop.db, shop.providers, shop.actor, order)
    refuse(shop, monkeypatch, "cancel")
    with statements(shop) as sent, pytest.raises(DomainError, match="cannot cancel"):
        mpay.cancel(shop.db, shop.providers, shop.actor, order)
    assert locks_the_request_first(refusal_unit(sent)), sent
