"""CSV for Swedish Excel: BOM, semicolons, decimal comma, local times, no formulas."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from verkstad.screens.csv_export import cell, write_csv


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (Decimal("1234.50"), "1234,50"),
        (Decimal("-10.00"), "-10,00"),  # a number, not a formula
        (1042, "1042"),
        (None, ""),
        (datetime(2026, 3, 5, 13, 7, tzinfo=UTC), "2026-03-05 14:07"),  # Stockholm time
        ("Åsa Öberg", "Åsa Öberg"),
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+46701234567", "'+46701234567"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
    ],
)
def test_cells(value, written):
    assert cell(value) == written


def test_file(tmp_path):
    path = write_csv(tmp_path / "exports", "betalningar", ["Namn", "Belopp"], [("Bo; Ek", 5)])
    assert path.parent == tmp_path / "exports" and path.name.startswith("betalningar-")
    assert path.read_bytes() == b'\xef\xbb\xbfNamn;Belopp\r\n"Bo; Ek";5\r\n'
