"""SIE 4I/4E: CP437 and CRLF bytes, mandatory records, balanced vouchers, read back strictly."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from freezegun import freeze_time

from tests.ledger.builders import klart
from verkstad.ledger.credit import credit_order
from verkstad.ledger.journal import RowView, VerificationView
from verkstad.ledger.posting import post_order
from verkstad.ledger.sie import (
    SieEncodingError,
    SieError,
    SieHeader,
    export_sie,
    parse_sie,
    write_sie,
)
from verkstad.orders import service


def frozen(at: str):
    """Freeze verkstad's clock, not the provider sandbox a session may run in a thread."""
    return freeze_time(at, real_asyncio=True, ignore=["verkstad.sandbox", "uvicorn", "asyncio"])


COMPANY = 'Bilverkstaden i Åmål "Kalle" AB'


@pytest.fixture
def company(db, admin):
    service.update_company(db, admin, name=COMPANY, org_number="556677-8899")


def export(db, start, end, kind="4i") -> bytes:
    out = io.BytesIO()
    export_sie(db, out, start, end, kind)
    return out.getvalue()


def test_4i_holds_the_worked_example(db, admin, company):
    with frozen("2025-03-14 10:00:00"):
        post_order(db, admin, klart(db, admin))
        data = export(db, date(2025, 3, 1), date(2025, 3, 31))
    assert data.startswith(b"#FLAGGA 0\r\n")
    assert data.count(b"\r\n") == data.count(b"\n")  # CRLF only
    assert "Åmål".encode("cp437") in data and b"\x8f" in data  # Å in CP437
    sie = parse_sie(data)
    assert sie.one("#FORMAT") == ["PC8"] and sie.one("#SIETYP") == ["4"]
    assert sie.one("#GEN") == ["20250314"]
    assert sie.one("#ORGNR") == ["556677-8899"]
    assert sie.one("#FNAMN") == [COMPANY]
    assert sie.one("#PROGRAM")[0] == "verkstad"
    [voucher] = sie.vouchers
    assert (voucher.series, voucher.number, voucher.booked_on) == ("A", "", date(2025, 3, 14))
    assert voucher.text.startswith("Invoice 1, order 1001, 10001 Anna Andersson")
    assert [(t.account, t.objects, t.amount) for t in voucher.rows] == [
        ("1510", "{}", 381200),
        ("3051", "{}", -119920),
        ("3041", "{}", -185000),
        ("2611", "{}", -76230),
        ("3740", "{}", -50),
    ]
    assert b"#TRANS 1510 {} 3812.00\r\n" in data and b"#TRANS 3740 {} -0.50\r\n" in data
    assert sie.accounts["3740"] == "Öres- och kronutjämning"


def test_4e_has_chart_year_and_balances_that_add_up(db, admin, company):
    with frozen("2025-01-10 10:00:00"):
        post_order(db, admin, klart(db, admin, "KONTANT"))
    with frozen("2025-02-05 10:00:00"):
        number = klart(db, admin)
        post_order(db, admin, number)
        credit_order(db, lambda name: None, admin, number)
        data = export(db, date(2025, 2, 1), date(2025, 2, 28), "4e")
        year = parse_sie(export(db, date(2025, 1, 1), date(2025, 12, 31), "4e"), "4e")
    assert year.opening == {} and len(year.vouchers) == 3
    assert year.result == {"3051": -119920, "3041": -185000, "3740": -50}
    sie = parse_sie(data, "4e")
    assert sie.one("#RAR") == ["0", "20250101", "20251231"]
    assert [v.number for v in sie.vouchers] == ["2", "3"]
    assert sie.opening == {"1910": 381200, "2611": -76230}  # January's cash sale
    moved: dict[str, int] = {}
    for voucher in sie.vouchers:
        for t in voucher.rows:
            moved[t.account] = moved.get(t.account, 0) + t.amount
    for account in set(sie.opening) | set(sie.closing) | {a for a in moved if a[0] in "12"}:
        expected = sie.opening.get(account, 0) + moved.get(account, 0)
        assert sie.closing.get(account, 0) == expected, account
    assert sie.closing == sie.opening  # February's invoice and its credit note cancel out
    assert sie.result == {}
    assert {"1931", "1930", "2641", "6064", "6570"} <= set(sie.accounts)


def view(number: int, text: str, rows: list[RowView]) -> VerificationView:
    at = datetime(2025, 3, 14, tzinfo=UTC)
    return VerificationView(number, at.date(), "invoice", text, None, None, at, "admin", rows)


def test_texts_round_trip_with_quotes_nordic_letters_and_length():
    texts = [
        'Faktura 7 "akut" – Østen Ærø, Åsa Öberg & Ägir\\Co €100',
        "x" * 300 + " åäö",
    ]
    rows = [RowView("1930", "", 12345), RowView("3001", "", -12345)]
    vouchers = [view(i, text, rows) for i, text in enumerate(texts, 1)]
    header = SieHeader("Verkstad AB", "556677-8899", "SEK", date(2025, 3, 14), "4e", "A")
    out = io.BytesIO()
    write_sie(out, header, {"1930": "Företagskonto", "3001": "Försäljning"}, vouchers)
    sie = parse_sie(out.getvalue())
    assert [v.text for v in sie.vouchers] == [
        'Faktura 7 "akut" - Östen Ærö, Åsa Öberg & Ägir\\Co EUR100',
        texts[1],
    ]
    assert sie.accounts == {"1930": "Företagskonto", "3001": "Försäljning"}


def test_what_cp437_cannot_hold_is_refused_not_garbled():
    russian = view(9, "Заказ", [])
    header = SieHeader("Verkstad AB", "556677-8899", "SEK", date(2025, 3, 14), "4i", "A")
    with pytest.raises(SieEncodingError, match=r"Verification 9.*U\+0417"):
        write_sie(io.BytesIO(), header, {}, [russian])


def test_export_needs_company_name_and_org_number(db, admin):
    with pytest.raises(Exception, match="name"):
        export(db, date(2025, 1, 1), date(2025, 12, 31))
    service.update_company(db, admin, name="Verkstad AB")
    with pytest.raises(Exception, match="Organisation number"):
        export(db, date(2025, 1, 1), date(2025, 12, 31))


GOOD = (
    b"#FLAGGA 0\r\n#PROGRAM x 1\r\n#FORMAT PC8\r\n#GEN 20250314\r\n#SIETYP 4\r\n"
    b'#FNAMN "A"\r\n#VER "A" "" 20250314 "t"\r\n{\r\n#TRANS 1930 {} 1.00\r\n'
    b"#TRANS 3001 {} -1.00\r\n}\r\n"
)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (GOOD.replace(b"\r\n", b"\n"), "CRLF"),
        (GOOD.replace(b"-1.00", b"-1.50"), "unbalanced"),
        (GOOD.replace(b"-1.00", b"-1,00"), "amount"),
        (GOOD.replace(b'#FNAMN "A"\r\n', b""), "#FNAMN"),
        (GOOD.replace(b'20250314 "t"', b'20250230 "t"'), "date"),
        (GOOD.replace(b"{} 1.00", b"1.00 20250314"), "object list"),
        (GOOD.replace(b"#FLAGGA 0\r\n", b""), "first record"),
        (GOOD.replace(b"}\r\n", b""), "not closed"),
    ],
)
def test_the_strict_reader_refuses_broken_files(broken, message):
    assert parse_sie(GOOD).vouchers[0].rows[0].amount == 100
    with pytest.raises(SieError, match=message):
        parse_sie(broken)
