"""CSV exports read back by the csv module equal the data; injection cells are neutralised."""

from __future__ import annotations

import csv
import io

import pytest

from tests.helpers import customer
from tests.ledger.builders import klart, paid_by_mobile
from verkstad.ledger.csv_export import (
    ORDER_COLUMNS,
    Column,
    Dialect,
    export_orders,
    export_payments,
    neutralise,
    write_csv,
)
from verkstad.ledger.posting import post_order
from verkstad.mpay.payments import PaymentFilter
from verkstad.orders.queries import OrderFilter, iter_orders
from verkstad.orders.status import OrderStatus

NASTY = ['=HYPERLINK("http://x")', "+46 70 123", "-2+3", "@SUM(A1)", 'Åsa Öberg; "Kalle"']


def read_back(text: str, dialect: Dialect) -> list[list[str]]:
    if dialect is Dialect.excel:
        assert text.startswith("\ufeff")
        text = text[1:]
    return list(
        csv.reader(io.StringIO(text, newline=""), delimiter=";" if dialect == "excel" else ",")
    )


def test_excel_export_equals_the_order_list(db, admin):
    numbers = [klart(db, admin, "KONTANT", customer(db, admin, name)) for name in NASTY]
    post_order(db, admin, numbers[0])
    out = io.StringIO(newline="")
    assert export_orders(db, out, dialect=Dialect.excel) == len(NASTY)
    rows = read_back(out.getvalue(), Dialect.excel)
    assert rows[0][:3] == ["No.", "Cust. no.", "Customer name"]
    names = [r[2] for r in rows[1:]]
    assert names == ['\'=HYPERLINK("http://x")', "'+46 70 123", "'-2+3", "'@SUM(A1)", NASTY[4]]
    first = dict(zip([c.key for c in ORDER_COLUMNS], rows[1], strict=True))
    assert first["total"] == "3812,00" and first["status"] == "BOKFÖRD"
    assert first["invoice_number"] == "1" and first["payment_received"] == "no"
    assert "\r\n" in out.getvalue()


def test_plain_export_is_rfc4180_with_filters(db, admin, provider):
    klart(db, admin, "KONTANT")
    paid = paid_by_mobile(db, admin, provider)
    out = io.StringIO(newline="")
    flt = OrderFilter(statuses=(OrderStatus.MPAY,))
    export_orders(db, out, flt, Dialect.plain)
    text = out.getvalue()
    assert not text.startswith("\ufeff") and text.endswith("\r\n")
    rows = read_back(text, Dialect.plain)
    assert rows[0] == [c.key for c in ORDER_COLUMNS]
    [row] = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    [expected] = list(iter_orders(db, flt))
    assert row["number"] == str(paid) == str(expected.number)
    assert row["total"] == "3812.00" and row["payment_received"] == "true"
    assert row["received_at"] == expected.received_at.isoformat().replace("+00:00", "Z")


def test_payments_export(db, admin, provider):
    paid_by_mobile(db, admin, provider)
    out = io.StringIO(newline="")
    assert export_payments(db, admin, out, PaymentFilter(provider="resurs")) == 1
    rows = read_back(out.getvalue(), Dialect.excel)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Amount"] == "3812,00" and row["Status"] == "PAID" and row["Captured"] == "3812,00"
    out = io.StringIO(newline="")
    assert export_payments(db, admin, out, PaymentFilter(provider="vipps")) == 0


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_neutralised(start):
    assert neutralise(f"{start}1+1") == f"'{start}1+1"
    out = io.StringIO(newline="")
    write_csv(
        out, [Column("x", "X", "text"), Column("n", "N", "money")], [{"x": f"{start}A", "n": -150}]
    )
    assert read_back(out.getvalue(), Dialect.excel)[1] == [
        f"'{start}A",
        "-1,50",
    ]  # numbers untouched


def test_rows_are_written_as_they_come():
    def rows():
        yield {"x": "a"}
        yield {"x": "b"}
        raise RuntimeError("the third row never comes")

    out = io.StringIO(newline="")
    with pytest.raises(RuntimeError):
        write_csv(out, [Column("x", "X", "text")], rows(), Dialect.plain)
    assert out.getvalue() == "x\r\na\r\nb\r\n"


@pytest.mark.parametrize("dialect", list(Dialect))
@pytest.mark.parametrize("zone", ["Europe/Stockholm", "Asia/Kathmandu"])
def test_streamed_order_export_formats_every_cell_like_cell(db, admin, dialect, zone):
    """The export formats rows straight from the query; every cell equals what ``cell``
    makes of the list's row, times around a daylight-saving change and in a zone
    whose offset is not whole hours included."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from verkstad.clock import set_timezone
    from verkstad.demo import seed
    from verkstad.ledger.csv_export import cell
    from verkstad.orders.models import Order

    seed(db, orders=120, seed_value=5)
    for name in NASTY:
        klart(db, admin, "KONTANT", customer(db, admin, name))
    # Stockholm moves to summer time at 01:00 UTC on 2026-03-29.
    edges = [
        datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, 0, 123, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, 0, tzinfo=UTC),
    ]
    with db.session() as s:
        for number, at in zip((1001, 1002, 1003, 1004), edges, strict=True):
            s.execute(update(Order).where(Order.number == number).values(payment_received_at=at))
    set_timezone(zone)
    try:
        out = io.StringIO(newline="")
        count = export_orders(db, out, dialect=dialect, sort="received_at", descending=True)
        rows = read_back(out.getvalue(), dialect)[1:]
        expected = [
            [
                cell(c.kind, {**r.as_dict(), "total": r.total_minor}.get(c.key), dialect)
                for c in ORDER_COLUMNS
            ]
            for r in iter_orders(db, sort="received_at", descending=True)
        ]
    finally:
        set_timezone("Europe/Stockholm")
    assert count == len(rows) == len(expected) > 120
    assert rows == expected
    again = io.StringIO(newline="")  # byte for byte what write_csv writes
    write_csv(
        again,
        ORDER_COLUMNS,
        ({**r.as_dict(), "total": r.total_minor} for r in iter_orders(db, sort="received_at")),
        dialect,
    )
    out = io.StringIO(newline="")
    export_orders(db, out, dialect=dialect, sort="received_at")
    assert out.getvalue() == again.getvalue()
