"""CSV files that Swedish Excel opens as they are: UTF-8 with a BOM, ``;`` between cells,
decimal comma, and no cell that a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from verkstad.clock import local, now

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
Cell = str | int | Decimal | datetime | None


def cell(value: Cell) -> str:
    """A number with a decimal comma, a time as local "2026-03-05 14:07"; text that could
    start a formula is quoted with ``'``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{local(value):%Y-%m-%d %H:%M}"
    if isinstance(value, int | Decimal):
        return str(value).replace(".", ",")
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def write_csv(
    folder: Path, stem: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]
) -> Path:
    """Write ``folder/<stem>-<local date and time>.csv`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-{local(now()):%Y%m%d-%H%M%S}.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow([cell(h) for h in header])
        writer.writerows([cell(v) for v in row] for row in rows)
    return path
