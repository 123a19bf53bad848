"""Exports (issue 9, part 6), 10 000 cases each:

* CSV: no cell a spreadsheet would run (= + - @, a tab or a CR first), whatever text
  a customer's name or a reference holds, in every CSV verkstad writes (the Excel and
  plain exports, the CLI's ``--format csv``), and the file still reads back cell for
  cell;
* SIE: a text CP437 cannot hold is refused naming where it is (company, account,
  verification) and the character; anything written parses strictly, field for field;
* file names: whatever a name holds (../, /, NUL, a right-to-left override…), the file
  lands directly in its folder, or the name is refused naming the field.
"""

from __future__ import annotations

import csv
import io
import os
import random
import re
import shutil
import string
import unicodedata
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import UTC, date, datetime
from pathlib import Path
from unicodedata import normalize

import pytest
from hypothesis import given

from tests.helpers import customer
from tests.reliability.fuzz import (
    FUZZ,
    NASTY,
    Tally,
    cases_strategy,
    outcome_of,
    scratch_folder,
    value_of,
)
from verkstad.cli.common import OutputFormat, emit
from verkstad.db import Database
from verkstad.errors import DomainError, ValidationError
from verkstad.i18n import _
from verkstad.invoices.print import print_pdf, save_pdf
from verkstad.ledger.csv_export import (
    Column,
    Dialect,
    export_orders,
    write_csv,
)
from verkstad.ledger.journal import RowView, VerificationView
from verkstad.ledger.reports import _save as save_report
from verkstad.ledger.sie import _TRANSLIT as SIE_PLAIN
from verkstad.ledger.sie import SieEncodingError, SieHeader, parse_sie, write_sie
from verkstad.orders import service
from verkstad.orders.service import CustomerInput
from verkstad.users import Actor

pytestmark = pytest.mark.reliability

FORMULA = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+([.,]\d+)?\Z")

_CELLS = [*NASTY, "=SUM(A1:A9)", "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1)", "\t=1", "\r=1"]


def typed_cell(rnd: random.Random) -> str:
    """A name or reference someone typed: ordinary, or built to be run as a formula."""
    word = "".join(rnd.choices(string.ascii_letters + "åäöÅÄÖ ;,\"'\n", k=rnd.randint(0, 12)))
    return rnd.choice([word, rnd.choice(_CELLS) + word, word + rnd.choice(_CELLS)])


def _unsafe(cell: str, numeric: bool) -> bool:
    """Whether a spreadsheet would run ``cell`` (a number in a number column is data)."""
    return cell.startswith(FORMULA) and not (numeric and NUMBER.match(cell))


# ---------------------------------------------------------------- CSV

COLUMNS = [
    Column("name", "Name", "text"),
    Column("amount", "Amount", "money"),
    Column("reference", "Reference", "text"),
    Column("count", "No.", "int"),
]


def _read(text: str, delimiter: str) -> list[list[str]]:
    return list(
        csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=delimiter)
    )


@pytest.fixture
def shop(db: Database, admin: Actor) -> tuple[Database, Actor, int]:
    """A customer with an order, whose name the CSV test changes."""
    number = customer(db, admin)
    service.create_order(db, admin, number)
    return db, admin, number


def test_csv_cells(shop: tuple[Database, Actor, int], figures) -> None:
    """Every CSV writer: the cell reads back as written (a ' before a formula), no cell
    starts a formula, and the rows keep their shape."""
    db, admin, number = shop
    tally = Tally()

    def check(text: str, serial: int) -> None:
        minor = random.Random(serial).randint(-(10**9), 10**9)
        row = {"name": text, "amount": minor, "reference": text[::-1], "count": serial}
        for dialect, delimiter in ((Dialect.excel, ";"), (Dialect.plain, ",")):
            out = io.StringIO(newline="")
            write_csv(out, COLUMNS, [row], dialect)
            _inspect(tally, _read(out.getvalue(), delimiter), [text, None, text[::-1], None], text)
        out = io.StringIO()
        with redirect_stdout(out):
            emit(OutputFormat.csv, [(c.key, c.label) for c in COLUMNS], [row])
        _inspect(tally, _read(out.getvalue(), ","), [text, None, text[::-1], None], text)
        if serial % 50 == 0:  # through the database and the streamed order export
            _through_the_books(tally, db, admin, number, text)

    @FUZZ
    @given(cases_strategy())
    def examples(batch: list[int | str]) -> None:
        for case in batch:
            tally.cases += 1
            text, _untouched = value_of(case, typed_cell, tally.cases)
            tally.run(check, text, tally.cases)

    examples()
    tally.accepted = tally.cases
    tally.report(figures, "exports")


def _inspect(tally: Tally, rows: list[list[str]], texts: list[str | None], value: str) -> None:
    """The header and one row of four cells; no cell runs; text reads back as written."""
    if len(rows) != 2 or any(len(r) != len(texts) for r in rows):
        tally.violation(f"the CSV does not read back as 2 rows of {len(texts)}: {rows!r}", value)
        return
    for cell, text in zip(rows[1], texts, strict=True):
        if _unsafe(cell, numeric=text is None):
            tally.violation(f"a spreadsheet would run the cell {cell!r}", value)
        elif text is not None and cell not in (text, "'" + text):
            tally.violation(f"the cell reads back as {cell!r}", value)
    if any(_unsafe(h, numeric=False) for h in rows[0]):
        tally.violation(f"a header would run: {rows[0]!r}", value)


def _through_the_books(tally: Tally, db: Database, admin: Actor, number: int, text: str) -> None:
    error, _r = outcome_of(
        lambda: service.update_customer(db, admin, number, CustomerInput(text or "x"))
    )
    if error is not None:
        return  # a name the customer card refuses (the bad-input tests check those)
    name = service.get_customer(db, number).name
    for dialect, delimiter in ((Dialect.excel, ";"), (Dialect.plain, ",")):
        out = io.StringIO(newline="")
        export_orders(db, out, dialect=dialect)
        rows = _read(out.getvalue(), delimiter)
        cells = [c for r in rows[1:] for c in r]
        if any(_unsafe(c, numeric=NUMBER.match(c) is not None) for c in cells):
            tally.violation("the order export has a cell a spreadsheet would run", text)
        if rows[1:] and name not in cells and "'" + name not in cells:
            tally.violation(f"the order export lost the name {name!r}", text)


# ---------------------------------------------------------------- SIE


def _voucher(text: str) -> VerificationView:
    at = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    rows = [RowView("1930", "Bank", 12500), RowView("3001", "Sales", -12500)]
    return VerificationView(1, date(2025, 3, 14), "invoice", text, None, None, at, "admin", rows)


def test_sie_texts(figures) -> None:
    """Company name, account name and verification text: refused naming where and which
    character, or written so that a strict reader gets every field back."""
    tally = Tally()

    def check(text: str, serial: int) -> None:
        where = serial % 3
        company = text if where == 0 else "Verkstad AB"
        account = text if where == 1 else "Bank"
        voucher = text if where == 2 else "Faktura 1"
        fields = {
            _("Company name"),
            _("Account {n}").format(n=1930),
            _("Verification {n}").format(n=1),
        }
        header = SieHeader(company, "556000-0000", "SEK", date(2025, 3, 15), "4i", "A")
        out = io.BytesIO()
        error, _count = outcome_of(
            lambda: write_sie(out, header, {"1930": account, "3001": "Sales"}, [_voucher(voucher)])
        )
        expected = _cp437_form(text)
        if error is not None:
            tally.refused += 1
            tally.is_clear(error, fields, text)
            if not isinstance(error, SieEncodingError) or expected is not None:
                tally.violation(f"refused what CP437 can hold: {error}", text)
            elif not any(f"U+{ord(c):04X}" in str(error) for c in normalize("NFC", text)):
                tally.violation(f"the refusal does not name the character: {error}", text)
            return
        tally.accepted += 1
        if expected is None:
            tally.violation("wrote what CP437 cannot hold", text)
            return
        data = out.getvalue()
        parsed_error, sie = outcome_of(lambda: parse_sie(data))
        if parsed_error is not None:
            tally.violation(f"the file does not parse: {parsed_error}", text)
            return
        got = (sie.one("#FNAMN")[0], sie.accounts.get("1930"), sie.vouchers[0].text)
        if got[where] != expected or len(sie.vouchers) != 1 or len(sie.vouchers[0].rows) != 2:
            tally.violation(f"read back as {got[where]!r}, not {expected!r}", text)

    @FUZZ
    @given(cases_strategy())
    def examples(batch: list[int | str]) -> None:
        for case in batch:
            tally.cases += 1
            text, _untouched = value_of(case, typed_sie_text, tally.cases)
            tally.run(check, text, tally.cases)

    examples()
    assert tally.accepted > 1000 and tally.refused > 1000
    tally.report(figures, "exports")


def _cp437_form(text: str) -> str | None:
    """What a SIE file can hold of ``text`` (None: nothing faithful): a character CP437
    has, or its plain letter (č → c, ø → ö, “ → "), control characters as spaces."""
    plain = []
    for char in unicodedata.normalize("NFC", text):
        if unicodedata.category(char) == "Cc":
            plain.append(" ")
            continue
        options = [char, SIE_PLAIN.get(char, "")]
        options.append("".join(c for c in unicodedata.normalize("NFKD", char)
                               if not unicodedata.combining(c)))  # fmt: skip
        fitting = [o for o in options if o and _fits(o)]
        if not fitting:
            return None
        plain.append(fitting[0])
    return "".join(plain)


def _fits(text: str) -> bool:
    try:
        text.encode("cp437")
    except UnicodeEncodeError:
        return False
    return True


def typed_sie_text(rnd: random.Random) -> str:
    """Names as workshops have them: Nordic letters, quotes of every kind, backslashes,
    accents CP437 lacks but can spell (č → c), and scripts it cannot hold at all."""
    alphabet = rnd.choice(
        [
            string.ascii_letters + " &-.,",
            "ÅÄÖåäöØøÆæÉéÜü ",
            "\"\\“”„«»＂＼'‘’ ",
            "čšžłđőűĆŚŹ ",
            "{}#;\r\n\t ",
            "ЖЯ中文🚗 ",
        ]
    )
    return "".join(rnd.choices(alphabet + "Ab ", k=rnd.randint(0, 30)))


# ---------------------------------------------------------------- file names


def typed_file_name(rnd: random.Random) -> str:
    name = rnd.choice(["faktura-1042.pdf", "kvitto 7.pdf", "Åsa Öberg.pdf", "payments-day.csv"])
    return rnd.choice(
        [
            name,
            f"../{name}",
            f"../../{name}",
            f"/tmp/{name}",
            f"sub/{name}",
            f"..\\{name}",
            f"{name}\x00.exe",
            "faktura\u202efdp.exe",
            ".",
            "..",
            "",
            " ",
            f".{name}",
            "x" * 300 + ".pdf",
            "Å" * 150 + ".pdf",
            f"C:\\Windows\\{name}",
            f"~/{name}",
            f"{name}\n",
            "CON",
        ]
    )


@pytest.fixture
def folders(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(root, folder): files go into root/inside/print; nothing may appear elsewhere."""
    root = scratch_folder(tmp_path) / "root"
    folder = root / "inside" / "print"
    folder.mkdir(parents=True)
    yield root, folder
    shutil.rmtree(root, ignore_errors=True)


def test_file_names(folders: tuple[Path, Path], figures) -> None:
    """save_pdf, print_pdf and the reports' writer: the file is directly in its folder,
    nothing appears anywhere else, or the name is refused naming the field."""
    root, folder = folders
    tally = Tally()
    writers = [
        lambda name: save_pdf(b"%PDF-1.4", folder, name),
        lambda name: print_pdf(b"%PDF-1.4", folder, name, ""),
        lambda name: save_report(folder, name, b"a;b\r\n"),
    ]

    def check(name: str, serial: int) -> None:
        error, path = tally.outcome(lambda: writers[serial % 3](name), {_("File name")}, name)
        if error is not None and not isinstance(error, ValidationError):
            tally.violation(f"refused with {type(error).__name__}: {error}", name)
        if path is not None:
            if path.parent != folder or not path.is_file():
                tally.violation(f"written to {path}", name)
            elif "/" in path.name or "\\" in path.name or path.name.startswith("."):
                tally.violation(f"written as {path.name!r}", name)
            path.unlink()
        outside = set(os.listdir(root)) - {"inside"} | set(os.listdir(folder.parent)) - {"print"}
        leftovers = os.listdir(folder)
        if outside or leftovers:
            tally.violation(f"files outside or left over: {outside, leftovers}", name)
            shutil.rmtree(root)
            folder.mkdir(parents=True)

    @FUZZ
    @given(cases_strategy())
    def examples(batch: list[int | str]) -> None:
        for case in batch:
            tally.cases += 1
            text, _untouched = value_of(case, typed_file_name, tally.cases)
            tally.run(check, text, tally.cases)

    examples()
    assert tally.accepted > 1000 and tally.refused > 10
    tally.report(figures, "exports")


def test_a_name_from_outside_stays_in_its_folder(folders: tuple[Path, Path]) -> None:
    """The examples by hand: what a path in a name becomes."""
    root, folder = folders
    assert save_pdf(b"x", folder, "../../etc/passwd").parent == folder
    assert save_pdf(b"x", folder, "faktura\u202efdp.exe").name == "faktura_fdp.exe"
    with pytest.raises(DomainError, match=_("File name")):
        save_pdf(b"x", folder, "..")
    assert sorted(p.name for p in root.rglob("*")) == sorted(
        ["inside", "print", "_.._etc_passwd", "faktura_fdp.exe"]
    )
