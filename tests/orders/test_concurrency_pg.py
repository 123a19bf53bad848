"""Optimistic locking and gapless numbers on PostgreSQL, with real concurrent sessions."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import customer, order_with_lines
from verkstad.errors import ConflictError
from verkstad.orders import service
from verkstad.orders.service import LineInput
from verkstad.users import Actor, Role

pytestmark = pytest.mark.postgres


def test_second_editor_gets_a_conflict_and_nothing_is_lost(pg_db, admin):
    order = order_with_lines(pg_db, admin)
    anna, bo = Actor("anna", Role.STAFF), Actor("bo", Role.STAFF)
    # Both opened the order at the same version; anna saves first.
    service.add_line(
        pg_db,
        anna,
        order.number,
        LineInput("Torkarblad", "2", "249"),
        expected_version=order.version,
    )
    with pytest.raises(ConflictError, match="changed by anna"):
        service.add_line(
            pg_db, bo, order.number, LineInput("Olja", "4", "129"), expected_version=order.version
        )
    after = service.get_order(pg_db, order.number)
    assert [x.description for x in after.lines] == ["Bromsbelägg", "Arbete", "Torkarblad"]
    assert after.version == order.version + 1


def test_racing_editors_exactly_one_wins(pg_db, admin):
    order = order_with_lines(pg_db, admin)
    barrier = threading.Barrier(6)

    def edit(i: int) -> str:
        barrier.wait()
        try:
            service.add_line(
                pg_db,
                Actor(f"u{i}", Role.STAFF),
                order.number,
                LineInput(f"rad {i}"),
                expected_version=order.version,
            )
        except ConflictError:
            return "conflict"
        return "ok"

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(edit, range(6)))
    assert results.count("ok") == 1 and results.count("conflict") == 5
    assert len(service.get_order(pg_db, order.number).lines) == 3


def test_order_numbers_are_gapless_under_concurrency(pg_db, admin):
    owner = customer(pg_db, admin)
    with ThreadPoolExecutor(4) as pool:
        numbers = list(
            pool.map(lambda _i: service.create_order(pg_db, admin, owner).number, range(40))
        )
    assert sorted(numbers) == list(range(1001, 1041))
