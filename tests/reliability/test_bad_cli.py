"""Bad command lines (issue 9, part 5): 10 000 invocations of the real ``verkstad`` entry
point, ``verkstad.cli.run(argv)``, in this process with captured output.

Each case is a real command with one of its options or arguments fuzzed (the others
valid), or a command line that is nonsense altogether. Whatever happens: no exception
escapes ``run``; success exits 0, a refusal exits 1 and a usage error 2, each with one
line on stderr ("Error: …") that names the option, argument or field; a refused
command changes nothing in the database; a sample is run again in Swedish ("Fel: …",
worded differently) and in a pseudo-locale (the words came through gettext).

Cheapest real path: a subprocess per case would cost ~1 s (imports), so ``run`` is
called in-process (the click command is built once per language and kept by
``verkstad.cli``), and the one database is opened once: the CLI's ``Database`` is
handed the already open one for this test's URL (its dispose at the end of each
command is a no-op here). Everything else — parsing, conversion, the commands, the
services, the error handling — is what a user's shell runs.
"""

from __future__ import annotations

import io
import random
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given

import verkstad.cli.context as cli_context
from tests.helpers import customer, order_with_lines
from tests.reliability.fuzz import (
    FUZZ,
    Fingerprint,
    Tally,
    cases_strategy,
    marked,
    pseudo_locale,
    value_of,
)
from tests.reliability.test_bad_input import typed_amount, typed_email, typed_phone, typed_reg
from verkstad.cli import printable, run
from verkstad.db import Database
from verkstad.i18n import _
from verkstad.orders import service

pytestmark = pytest.mark.reliability

Plausible = Callable[[random.Random], str]


def _words(*choices: str) -> Plausible:
    return lambda rnd: rnd.choice(choices)


def _from(generator: Callable[[random.Random], tuple[str, object]]) -> Plausible:
    return lambda rnd: generator(rnd)[0]


DATES = _words("2025-03-01", "2025-12-31", "2025-13-01", "2025-02-30", "01/02/2025", "", "today")
NUMBERS = _words("1001", "1", "0", "-1", "10001", "99999999999999999999999", "1e3", "1 001", "")


@dataclass(frozen=True)
class Template:
    """A command line with one place ({}) for the fuzzed value, and what a refusal of
    that value may name: the option or argument, or the field's label."""

    argv: tuple[str, ...]
    plausible: Plausible
    names: tuple[str, ...]

    def fields(self) -> set[str]:
        return {n if n.startswith("-") or n.isupper() else _(n) for n in self.names}


def templates(customer_number: int, order_number: int, line_id: int) -> list[Template]:
    """Commands whose accepted cases replace rather than add (a line edited, not added; a
    customer changed), so the database, and each command's time, stays the same size."""
    c, o = str(customer_number), str(order_number)
    line = ("orders", "edit-line", o, str(line_id), "--format", "json", "--desc", "Olja")
    return [
        Template(
            ("customers", "edit", c, "--phone", "{}"),
            _from(typed_phone),
            ("--phone", "Mobile phone"),
        ),
        Template(
            ("customers", "edit", c, "--email", "{}"), _from(typed_email), ("--email", "E-mail")
        ),
        Template(
            ("customers", "edit", c, "--name", "{}"),
            _words("Åsa Öberg", "", " "),
            ("--name", "Name"),
        ),
        Template(
            ("customers", "add", "--name", "{}"), _words("Åsa Öberg", "", " "), ("--name", "Name")
        ),
        Template(
            ("customers", "edit", c, "--language", "{}"),
            _words("sv", "nb", "de", ""),
            ("--language", "Language"),
        ),
        Template(
            ("customers", "show", "--format", "json", "{}"), NUMBERS, ("NUMBER", "customer number")
        ),
        Template(
            ("vehicles", "add", "--customer", c, "--reg", "{}"),
            _from(typed_reg),
            ("--reg", "Registration number"),
        ),
        Template(
            ("vehicles", "add", "--customer", "{}", "--reg", "ABC123"),
            NUMBERS,
            ("--customer", "customer number", "ABC123"),
        ),
        Template(
            (*line, "--price", "{}"), _from(typed_amount), ("--price", "Unit price excl. VAT")
        ),
        Template(
            (*line, "--qty", "{}"),
            _words("1", "1,5", "0", "-2", "0,0001", "x"),
            ("--qty", "Quantity"),
        ),
        Template(
            (*line, "--vat", "{}"), _words("25", "12", "6", "0", "7", "25 %"), ("--vat", "VAT rate")
        ),
        Template(
            (*line, "--discount", "{}"),
            _words("10", "", "100", "101", "-1", "12,5"),
            ("--discount", "Discount %"),
        ),
        Template(
            (*line, "--kind", "{}"),
            _words("part", "labour", "fee", "text", "other"),
            ("--kind", "Kind"),
        ),
        Template(("orders", "add-line", "{}", "--desc", "x"), NUMBERS, ("ORDER", "order number")),
        Template(
            ("orders", "edit-line", o, "{}", "--format", "json", "--desc", "x"),
            NUMBERS,
            ("LINE", "line"),
        ),
        Template(
            ("orders", "set", o, "--format", "json", "--payment-method", "{}"),
            _words("KORT", "KONTANT", "MOBIL", "x"),
            ("--payment-method", "Payment method"),
        ),
        Template(
            ("orders", "set", o, "--format", "json", "--vehicle", "{}"),
            _from(typed_reg),
            ("--vehicle", "Registration number", "Vehicle"),
        ),
        Template(
            ("orders", "list", "--format", "json", "--received-from", "{}"),
            DATES,
            ("--received-from",),
        ),
        Template(
            ("orders", "list", "--format", "json", "--status", "{}"),
            _words("KLART", "ÖPPEN", "klart", "DONE"),
            ("--status", "Status"),
        ),
        Template(
            ("orders", "list", "--format", "json", "--sort", "{}"),
            _words("number", "customer", "received_at", "x"),
            ("--sort", "Sort"),
        ),
        Template(("orders", "list", "--format", "json", "--limit", "{}"), NUMBERS, ("--limit",)),
        Template(
            ("orders", "show", o, "--format", "{}"),
            _words("table", "csv", "json", "xml"),
            ("--format",),
        ),
        Template(
            ("export", "csv", "{}"), _words("orders", "payments", "customers"), ("WHAT", "What")
        ),
        Template(
            ("export", "csv", "orders", "--dialect", "{}"),
            _words("excel", "plain", "x"),
            ("--dialect",),
        ),
        Template(
            ("export", "sie", "--from", "{}", "--to", "2025-12-31"), DATES, ("--from", "--to")
        ),
        Template(
            ("export", "sie", "--from", "2025-01-01", "--to", "2025-12-31", "--type", "{}"),
            _words("4i", "4e", "5"),
            ("--type",),
        ),
        Template(("ledger", "list", "--format", "json", "--to", "{}"), DATES, ("--to",)),
        Template(("ledger", "balance", "{}"), _words("1930", "19", "x"), ("ACCOUNT", "Account")),
        Template(
            ("company", "set", "--timezone", "{}"),
            _words("Europe/Stockholm", "Europe/Oslo", "Europe", "Mars/Olympus", "UTC"),
            ("--timezone", "Time zone"),
        ),
        Template(("company", "set", "--email", "{}"), _from(typed_email), ("--email", "E-mail")),
        Template(
            ("company", "set", "--postal-code", "{}"),
            _words("123 45", "0150", "12345678901"),
            ("--postal-code", "Postal code"),
        ),
        Template(
            ("company", "set", "--country", "{}"),
            _words("SE", "se", "NO", "DK"),
            ("--country", "Country"),
        ),
        Template(
            ("customers", "list", "--format", "json", "--search", "{}"),
            _words("Åsa", "10001", "070-123 45 67", "ABC123", "²", "%", "_"),
            ("--search",),
        ),
        Template(
            ("orders", "list", "--format", "json", "--search", "{}"),
            _words("1001", "Åsa", "ABC 123", "³", "%_"),
            ("--search",),
        ),
        Template(
            ("vehicles", "add", "--customer", c, "--reg", "QWE987", "--year", "{}"),
            _words("2019", "1899", "20 19", "²⁰¹⁹", ""),
            ("--year", "Model year", "QWE987"),
        ),
        Template(
            ("--user", "{}", "orders", "list", "--format", "json"),
            _words("admin", "anna", ""),
            ("--user",),
        ),
        Template(
            ("--lang", "{}", "orders", "list", "--format", "json"),
            _words("sv", "en", "de"),
            ("--lang",),
        ),
        Template(
            ("--db", "{}", "orders", "list", "--format", "json"),
            _words("foo", "mysql://x/y", "", "ftp:/x"),
            ("--db", "Database URL"),
        ),
        Template(("orders", "{}"), _words("list", "show", "nope"), ()),
        Template(("{}",), _words("orders", "nope", "--help"), ()),
        Template(
            ("orders", "list", "--format", "json", "{}"), _words("--desc", "--nope", "extra"), ()
        ),
    ]


class Cli:
    """``run`` with its output captured, on this test's database."""

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        raw = io.BytesIO()  # a terminal's stdout has bytes underneath (SIE is written there)
        out = io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace")
        err = io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = run(argv)
            sys.stdout.flush()
        return code, raw.getvalue().decode("utf-8", "replace"), err.getvalue()


@pytest.fixture
def shared_database(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The CLI opens this test's database once: same engine for every invocation."""
    monkeypatch.setenv("VERKSTAD_DATABASE_URL", db.url)
    monkeypatch.setattr(db, "dispose", lambda: None)

    def opened(url: str) -> Database:
        return db if url == db.url else Database(url)

    monkeypatch.setattr(cli_context, "Database", opened)
    yield db


def _alnum(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


def quotes(message: str, value: str) -> bool:
    """Whether ``message`` quotes the value — as typed, normalised (a registration number
    in capitals without its space, a number without its +) or with what cannot be
    printed escaped: its letters and digits appear in it, in order."""
    if value.startswith("-") and printable(value[:2]) in message:
        return True  # click names a bundle of one-letter options by its first
    letters = iter(message.casefold())
    return all(c in letters for c in _alnum(value).casefold())  # in order, escapes between


def _message(stderr: str, prefix: str) -> str:
    return stderr.strip().removeprefix(prefix).strip()


def test_command_lines(shared_database: Database, admin, tmp_path: Path, figures) -> None:
    db = shared_database
    service.update_company(db, admin, name="Verkstad AB", org_number="556000-0000")
    number = customer(db, admin)
    order = order_with_lines(db, admin, number)
    chosen = templates(number, order.number, order.lines[0].id)
    fingerprint = Fingerprint(db)
    cli = Cli()
    tally = Tally()
    codes = {0: 0, 1: 0, 2: 0}

    def check(value: str, template: Template) -> None:
        argv = [a.replace("{}", value) if a == "{}" else a for a in template.argv]
        before = fingerprint()
        code, _out, err = cli(["--lang", "en", *argv])
        if code not in codes:
            tally.violation(f"exit code {code}", argv)
            return
        codes[code] += 1
        if code == 0:
            tally.accepted += 1
            return
        tally.refused += 1
        if fingerprint() != before:
            tally.violation("a refused command changed the database", argv)
        if err.startswith("Usage:"):  # a group without its command shows its help
            return
        lines = err.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("Error: "):
            tally.violation(f"not one 'Error:' line: {err!r}", argv)
            return
        message = _message(err, "Error:")
        names = template.fields()
        named = any(n and n in message for n in names) or quotes(message, value)
        if not names or value.startswith("-"):  # the option, argument or command named
            named = named or bool(re.search(r"(^|\s)('-|--?\S|[A-Z]{3,})", message))
        if not named and _alnum(value):
            tally.violation(f"{message!r} names none of {sorted(names)} nor the value", argv)
        if not tally.due_for_translation():
            return
        tally.translation_checks += 1
        with pseudo_locale() as asked:
            _code, _out, err_pseudo = cli(["--lang", "en", *argv])
        inner = err_pseudo.strip().removeprefix("⟪Error: ")
        if not marked(err_pseudo.strip()) or "⟪" not in inner:
            tally.violation(f"a part of {err_pseudo.strip()!r} bypasses gettext", argv)
        code_sv, _out, err_sv = cli(["--lang", "sv", *argv])
        if code_sv != code or not err_sv.startswith("Fel: "):
            tally.violation(f"not in Swedish: {err_sv!r}", argv)
        tally.swedish(message, _message(err_sv, "Fel:"), asked, argv)

    @FUZZ
    @given(cases_strategy())
    def examples(batch: list[int | str]) -> None:
        for case in batch:
            tally.cases += 1
            template = chosen[tally.cases % len(chosen)]
            value, _untouched = value_of(case, template.plausible, tally.cases, plain=1)
            # What a shell can pass: no NUL; bytes that are not UTF-8 arrive as lone
            # surrogates (Python's surrogateescape).
            value = value.replace("\x00", "")
            if tally.cases % 11 == 0:
                value += "\udcff"
            tally.run(check, value, template)

    examples()
    for problem in fingerprint.too_long():
        tally.violation("a value longer than its column", problem)
    fingerprint.close()
    assert codes[0] > 1000 and codes[1] > 1000 and codes[2] > 500, codes
    tally.report(figures, "bad input")


def test_a_database_that_cannot_be_reached_is_one_line(shared_database: Database) -> None:
    """A PostgreSQL URL with no server behind it (port 1 refuses at once; the fuzz test
    keeps away from real hosts) is a refusal, not a traceback."""
    code, _out, err = Cli()(
        ["--lang", "en", "--db", "postgresql://u@127.0.0.1:1/db", "orders", "list"]
    )
    assert code == 1
    assert err.startswith("Error: The database cannot be reached") and len(err.splitlines()) == 1
