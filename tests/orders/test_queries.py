"""The order list: every sort column both ways against a reference, filters, stable keyset pages."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import customer
from verkstad.demo import seed
from verkstad.errors import ValidationError
from verkstad.orders import service
from verkstad.orders.queries import COLUMNS, OrderFilter, count_orders, iter_orders, list_orders
from verkstad.orders.status import OrderStatus, PaymentMethod


@pytest.fixture
def seeded(db):
    seed(db, orders=400, seed_value=7)
    return db


def _all(db, **kw):
    return list(iter_orders(db, batch=37, **kw))


def _reference(rows, key, descending):
    attr = "total_minor" if key == "total" else key
    present = sorted(
        (r for r in rows if getattr(r, attr) is not None), key=lambda r: (getattr(r, attr), r.id)
    )
    missing = sorted((r for r in rows if getattr(r, attr) is None), key=lambda r: r.id)
    ordered = present + missing
    return list(reversed(ordered)) if descending else ordered


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("key", list(COLUMNS))
def test_every_sort_pages_exactly_like_a_full_sort(seeded, key, descending):
    everything = _all(seeded)
    assert len(everything) == count_orders(seeded) >= 400  # credits add their copies
    paged = _all(seeded, sort=key, descending=descending)
    assert [r.id for r in paged] == [r.id for r in _reference(everything, key, descending)]


def test_filters(seeded):
    everything = _all(seeded)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=31)
    flt = OrderFilter(received=True, received_from=start, received_to=end)
    got = _all(seeded, flt=flt, sort="received_at")
    expected = [
        r
        for r in everything
        if r.payment_received and r.received_at and start <= r.received_at < end
    ]
    assert got and [r.id for r in got] == [r.id for r in _reference(expected, "received_at", False)]
    assert count_orders(seeded, flt) == len(expected)

    unpaid = _all(seeded, flt=OrderFilter(received=False))
    assert unpaid and all(not r.payment_received for r in unpaid)
    done = _all(seeded, flt=OrderFilter(statuses=(OrderStatus.DONE, OrderStatus.OPEN)))
    assert {r.status for r in done} == {"KLART", "ÖPPEN"}
    mobile = _all(seeded, flt=OrderFilter(payment_method=PaymentMethod.MOBIL))
    assert mobile and all(r.payment_method == "MOBIL" for r in mobile)
    some = everything[5]
    assert [r.id for r in _all(seeded, flt=OrderFilter(customer_number=some.customer_number))] == [
        r.id for r in everything if r.customer_number == some.customer_number
    ]


def test_free_text_finds_number_name_and_registration(seeded):
    target = next(r for r in _all(seeded) if r.reg_number)
    assert target.id in {r.id for r in _all(seeded, flt=OrderFilter(text=str(target.number)))}
    by_name = _all(seeded, flt=OrderFilter(text=target.customer_name.split()[1].lower()))
    assert target.id in {r.id for r in by_name}
    assert all(target.customer_name.split()[1] in r.customer_name for r in by_name)
    by_reg = _all(seeded, flt=OrderFilter(text=target.reg_number[:4].lower()))
    assert target.id in {r.id for r in by_reg}
    assert _all(seeded, flt=OrderFilter(text="%_\\")) == []


@pytest.mark.parametrize(
    ("key", "descending"),
    [("number", False), ("received_at", False), ("received_at", True), ("customer_name", True)],
)
def test_no_row_lost_or_repeated_while_orders_are_added(seeded, admin, key, descending):
    before = {r.id for r in _all(seeded)}
    owner = customer(seeded, admin, "Ny Kund")
    seen: list[int] = []
    page = list_orders(seeded, sort=key, descending=descending, limit=25)
    while True:
        seen += [r.id for r in page.rows]
        service.create_order(seeded, admin, owner)  # someone at another counter
        if page.next is None:
            break
        page = list_orders(seeded, sort=key, descending=descending, after=page.next, limit=25)
    assert len(seen) == len(set(seen))
    assert before <= set(seen)


def test_unknown_sort_is_refused(seeded):
    with pytest.raises(ValidationError, match="Sort"):
        list_orders(seeded, sort="secret")


def test_search_folds_non_ascii_case(db, admin):
    from verkstad.orders.service import search_customers

    number = customer(db, admin, "Åsa Öberg")
    service.create_order(db, admin, number)
    for term in ("öberg", "ÖBERG", "åsa", "A\u030asa"):  # the last is "åsa" typed decomposed (NFD)
        assert [r.customer_number for r in _all(db, flt=OrderFilter(text=term))] == [number], term
        assert [c.number for c in search_customers(db, term)] == [number], term


def test_every_sort_and_filter_alike_on_both_backends(any_db, admin):
    """The list's SQL is written per backend (placeholders, case folding): same answers."""
    seed(any_db, orders=150, seed_value=11)
    everything = _all(any_db)
    assert len(everything) == count_orders(any_db) >= 150
    for key in COLUMNS:
        for descending in (False, True):
            paged = _all(any_db, sort=key, descending=descending)
            expected = _reference(everything, key, descending)
            assert [r.id for r in paged] == [r.id for r in expected], (key, descending)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    flt = OrderFilter(received=True, received_from=start, received_to=start + timedelta(days=60))
    paid = [r for r in everything if r.received_at and start <= r.received_at < flt.received_to]
    assert [r.id for r in _all(any_db, flt=flt, sort="received_at")] == [
        r.id for r in _reference(paid, "received_at", False)
    ]
    assert count_orders(any_db, flt) == len(paid)
    target = next(r for r in everything if r.reg_number)
    surname = target.customer_name.split()[-1]
    for text in (surname.upper(), target.reg_number[:3].lower(), str(target.number)):
        found = _all(any_db, flt=OrderFilter(text=text))
        assert target.id in {r.id for r in found}, text
        assert count_orders(any_db, OrderFilter(text=text)) == len(found)
    assert _all(any_db, flt=OrderFilter(text="%_\\")) == []
    statuses = (OrderStatus.DONE, OrderStatus.POSTED)
    assert {r.status for r in _all(any_db, flt=OrderFilter(statuses=statuses))} <= {
        s.value for s in statuses
    }
