"""What every CLI command shares: the context (settings, database, acting user) and output."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import typer

from verkstad.cli.context import Context
from verkstad.i18n import _


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FORMAT_HELP = "table | csv | json"


def ctx_of(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def emit(
    fmt: OutputFormat,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[dict[str, Any]],
    display: Callable[[str, Any], str] | None = None,
    title: str | None = None,
) -> None:
    """Print rows as a table (translated headers, display formatting), CSV or JSON (raw values).

    ``columns`` are (key, translated header); JSON and CSV use the keys and raw
    values (minor units, ISO 8601 UTC) so scripts get stable data.
    """
    if fmt is OutputFormat.json:
        json.dump(
            [{k: _plain(v) for k, v in r.items()} for r in rows],
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        sys.stdout.write("\n")
        return
    if fmt is OutputFormat.csv:
        # RFC 4180's CRLF: csv then quotes a cell holding a lone CR too, which would
        # otherwise start a new row (with a formula at its head) in a spreadsheet.
        writer = csv.writer(sys.stdout, lineterminator="\r\n")
        writer.writerow([k for k, _h in columns])
        for r in rows:
            writer.writerow([_csv_cell(r.get(k)) for k, _h in columns])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for _key, header in columns:
        table.add_column(header)
    for r in rows:
        table.add_row(*(display(k, r.get(k)) if display else _text(r.get(k)) for k, _h in columns))
    Console(markup=False, emoji=False).print(table)  # names as typed: "[/bil]", ":car:"


def _csv_cell(value: Any) -> Any:
    """A raw value for CSV; text that a spreadsheet would run as a formula (= + - @, a tab
    or CR first: a customer called "=HYPERLINK(…)") gets a leading ' as in the exports."""
    from verkstad.ledger.csv_export import neutralise

    if value is None:
        return ""
    plain = _plain(value)
    return neutralise(plain) if isinstance(plain, str) else plain


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=_plain)
    sys.stdout.write("\n")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def info(message: str) -> None:
    typer.echo(message)
