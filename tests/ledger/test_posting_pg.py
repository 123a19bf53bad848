"""Gapless invoice and verification numbers under concurrent posting and crediting (PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import select

from tests.helpers import customer
from tests.ledger.builders import klart
from tests.ledger.fakes import FakeProvider
from verkstad.errors import DomainError
from verkstad.ledger.credit import credit_order
from verkstad.ledger.journal import iter_verifications
from verkstad.ledger.models import CreditNote
from verkstad.ledger.posting import post_order
from verkstad.orders.models import Order
from verkstad.users import Actor, Role

pytestmark = pytest.mark.postgres
WORKERS = 8


def test_concurrent_posting_and_crediting_leave_no_gaps(pg_db, admin):
    buyer = customer(pg_db, admin)
    numbers = [klart(pg_db, admin, "FAKTURA", buyer) for _ in range(16)]
    barrier = threading.Barrier(WORKERS)

    def post(i: int) -> str:
        if i < WORKERS:
            barrier.wait()
        try:
            # every order is posted twice at once: one wins, the other is refused
            post_order(pg_db, Actor(f"u{i}", Role.STAFF), numbers[i % len(numbers)])
        except DomainError:
            return "refused"
        return "posted"

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(post, range(2 * len(numbers))))
    assert results.count("posted") == len(numbers)

    def credit(number: int) -> int:
        return credit_order(pg_db, FakeProvider(), admin, number, reopen=False).number

    with ThreadPoolExecutor(WORKERS) as pool:
        credit_numbers = list(pool.map(credit, numbers[::2]))

    with pg_db.read() as s:
        invoices = sorted(n for n in s.exec(select(Order.invoice_number)) if n is not None)
        credits = sorted(s.exec(select(CreditNote.number)))
    series = sorted(invoices + credits)
    assert series == list(range(1, len(numbers) + len(numbers[::2]) + 1))
    assert sorted(credit_numbers) == credits
    verifications = list(iter_verifications(pg_db))
    assert [v.number for v in verifications] == list(range(1, len(series) + 1))
    assert all(sum(r.amount_minor for r in v.rows) == 0 for v in verifications)
