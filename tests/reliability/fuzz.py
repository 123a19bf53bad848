"""What the bad-input and export fuzz tests share: strategies, a database fingerprint, and
the check that a refusal is clear, names its field and is translated.

Speed (the whole of parts 5 and 6 runs in about a minute and a half on two cores):

* hypothesis spends about half a millisecond of its own on every example, so each
  example draws a batch of ``BATCH`` inputs and every input is one case, run through
  the real entry point and counted (a failure still shrinks to the smallest batch);
* a case is either hypothesis' own text or a seed that ``plausible`` functions turn
  into what a user would type — cheaper to draw than composite strategies, and about
  half of them valid, so both the accepting and the refusing paths are exercised;
* every case goes through the field's rule (``verkstad.orders.fields``,
  ``verkstad.money``: the functions every service and screen calls), and every
  ``SERVICE_EVERY``-th also through the service that writes, against one migrated
  database whose fingerprint must not move when an input is refused.
"""

from __future__ import annotations

import gettext
import os
import random
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from verkstad import i18n
from verkstad.db import Database
from verkstad.errors import DomainError, ValidationError

CASES = 10_000  # per kind of input (issue 9, parts 5 and 6)
BATCH = 50  # inputs per hypothesis example
EXAMPLES = CASES // BATCH
SERVICE_EVERY = 20  # one case in so many also goes through the service that writes
TRANSLATION_EVERY = 47  # so many refusals per refusal checked in Swedish and a pseudo-locale

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis folder in the working tree; a failure prints its example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------- inputs

NASTY = [
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\x00",
    "\x1b[31m",
    "\u200b",  # zero-width space
    "\u202e",  # right-to-left override
    "\ufeff",  # byte order mark
    "\u00a0",  # no-break space
    "\u2212",  # minus sign
    "\u0301",  # a lone combining accent
    "e\u0301",  # é decomposed
    "é",
    "Ø",
    "ß",
    "ﬁ",
    "İ",
    "Ω",
    "Я",
    "中文",
    "עברית",
    "عربي",
    "🚗",
    "👩\u200d🔧",
    "=1+1",
    "+46",
    "-",
    "@",
    "'",
    '"',
    "“",
    "\\",
    "＂",
    ";",
    ",",
    ".",
    "..",
    "../",
    "/",
    "%s",
    "{0}",
    "{n}",
    "NaN",
    "inf",
    "1e309",
    "9" * 40,
    "x" * 501,
]


def one_case() -> st.SearchStrategy[int | str]:
    """A seed for a plausible value (an int) or hypothesis' own text (a str)."""
    return st.one_of(st.integers(0, 2**62), st.text(max_size=40))


def cases_strategy() -> st.SearchStrategy[list[int | str]]:
    return st.lists(one_case(), min_size=BATCH, max_size=BATCH)


def value_of(
    case: int | str, plausible: Callable[[random.Random], str], serial: int = 0, plain: int = 2
) -> tuple[str, bool]:
    """The input for ``case``: (text, whether it is the plausible value untouched) —
    ``plain`` in three seeds give it untouched, the others with something nasty put in.
    ``serial`` (the case's number) is mixed into the seed: hypothesis repeats small
    integers often, and every case should be a new one (a violation records its value)."""
    if isinstance(case, str):
        return case, False
    rnd = random.Random(case * 100_003 + serial)
    text = plausible(rnd)
    if case % 3 < plain:
        return text, True
    bad = rnd.choice(NASTY)
    where = rnd.randint(0, len(text))
    return text[:where] + bad + text[where:], False


def scratch_folder(tmp_path: Path) -> Path:
    """A folder for files written per case: in memory (tmpfs) where the system has one,
    since thousands of small writes to the disk cost seconds; else ``tmp_path``."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="verkstad-fuzz-", dir=shm))
    return tmp_path


# ---------------------------------------------------------------- no partial write


class Fingerprint:
    """Whether anything was committed: SQLite's data_version (it changes whenever another
    connection commits) and the row count of every table, read on a connection of its own."""

    def __init__(self, db: Database) -> None:
        assert db.is_sqlite
        path = db.url.split("///", 1)[1]
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.tables = [
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        self.query = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in self.tables)

    def __call__(self) -> tuple[Any, ...]:
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        return (version, *self.conn.execute(self.query).fetchone())

    def too_long(self) -> list[str]:
        """Values longer than their column allows: SQLite stores them, PostgreSQL refuses
        them (a crash there), so the services must refuse them first."""
        from sqlmodel import SQLModel

        import verkstad.models  # noqa: F401 - every table registered

        found = []
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in self.tables:
                continue
            for column in table.columns:
                length = getattr(column.type, "length", None)
                if not length:
                    continue
                n = self.conn.execute(
                    f'SELECT count(*) FROM "{table.name}" WHERE length("{column.name}") > ?',
                    (length,),
                ).fetchone()[0]
                if n:
                    found.append(f"{table.name}.{column.name} > {length} characters ({n} rows)")
        return found

    def close(self) -> None:
        self.conn.close()


# ---------------------------------------------------------------- clear, named, translated


class _Pseudo(gettext.NullTranslations):
    """A pseudo-locale: every message that goes through gettext comes out as ⟪…⟫, and
    the message ids asked for are kept."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def gettext(self, message: str) -> str:
        self.asked.append(message)
        return f"⟪{message}⟫"

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        self.asked.append(msgid1)
        return f"⟪{msgid1 if n == 1 else msgid2}⟫"


@contextmanager
def pseudo_locale() -> Iterator[list[str]]:
    """Within the block every ``_()`` answers ⟪msgid⟫; yields the msgids asked for."""
    pseudo = _Pseudo()
    token = i18n._override.set(("en", pseudo))
    try:
        yield pseudo.asked
    finally:
        i18n._override.reset(token)


def awaiting_translation(msgids: list[str], lang: str = "sv") -> set[str]:
    """The msgids the catalogue does not have yet (new ones: the catalogue test lists them
    until a translator adds them; until then gettext shows the English)."""
    catalogue = getattr(i18n.translation_for(lang), "_catalog", {})
    return {m for m in msgids if m not in catalogue}


def refusal_of(call: Callable[[], object]) -> DomainError | None:
    """The DomainError ``call`` raises (None if it accepts); anything else propagates."""
    return outcome_of(call)[0]


def outcome_of(call: Callable[[], Any]) -> tuple[DomainError | None, Any]:
    """(the DomainError ``call`` raised, None) or (None, what it returned)."""
    try:
        return None, call()
    except DomainError as e:
        return e, None


def marked(text: str) -> bool:
    """Whether ``text`` came out of gettext in the pseudo-locale."""
    return text.startswith("⟪") and "⟫" in text


@dataclass
class Tally:
    """One fuzz test's cases and broken rules (each with its example)."""

    cases: int = 0
    accepted: int = 0
    refused: int = 0
    service_calls: int = 0
    translation_checks: int = 0
    violations: list[str] = field(default_factory=list)
    pending: set[str] = field(default_factory=set)  # msgids not yet in the Swedish catalogue

    def violation(self, what: str, value: object) -> None:
        self.violations.append(f"{what}: {value!r}")

    def is_clear(self, error: DomainError, fields: set[str], value: object) -> None:
        """The refusal is a message for people that names one of ``fields``."""
        message = str(error)
        if not message.strip() or "Traceback" in message or "\n" in message.strip():
            self.violation(f"an empty or raw refusal {message!r}", value)
        if isinstance(error, ValidationError):
            if error.field not in fields:
                self.violation(f"refusal names {error.field!r}, not one of {sorted(fields)}", value)
        elif not any(f and f in message for f in fields):
            self.violation(f"refusal {message!r} names none of {sorted(fields)}", value)

    def run(self, check: Callable[..., None], value: object, *args: Any) -> None:
        """``check(value, *args)``; a crash (anything but a refusal) is a violation, counted
        with the others rather than stopping the run."""
        try:
            check(value, *args)
        except Exception as e:  # noqa: BLE001 - every crash is recorded
            self.violation(f"crash {type(e).__name__}: {str(e)[:200]}", value)

    def due_for_translation(self) -> bool:
        return self.refused % TRANSLATION_EVERY == 1

    def swedish(self, english: str, swedish: str | None, asked: list[str], value: object) -> None:
        """The Swedish refusal reads differently from the English one — or every msgid in
        it is one the Swedish catalogue does not have yet (counted in ``pending``: a new
        message, which the catalogue test reports until it is translated) or translates
        the same."""
        if swedish is None:
            self.violation(f"refused in English ({english!r}) but not in Swedish", value)
        elif swedish == english:
            self.pending |= awaiting_translation(asked)

    def is_translated(self, call: Callable[[], object], english: str, value: object) -> None:
        """Run ``call`` again in the pseudo-locale (its field and its rule must both have
        come through gettext) and in Swedish (see ``swedish``)."""
        self.translation_checks += 1
        with pseudo_locale() as asked:
            pseudo = refusal_of(call)
        with i18n.using_language("sv"):
            swedish = refusal_of(call)
        self.swedish(english, None if swedish is None else str(swedish), asked, value)
        if isinstance(pseudo, ValidationError):
            names_option = pseudo.field.startswith("-")
            if not (names_option or marked(pseudo.field)) or not marked(pseudo.rule):
                self.violation(f"a part of {str(pseudo)!r} bypasses gettext", value)
        elif pseudo is None or not marked(str(pseudo)):
            self.violation(f"{pseudo!s} bypasses gettext", value)

    def outcome(
        self, call: Callable[[], Any], fields: set[str], value: object
    ) -> tuple[DomainError | None, Any]:
        """Run ``call``: (None, its result), or (its refusal, None) — which must be clear,
        name one of ``fields`` and (a sample) be translated."""
        error, result = outcome_of(call)
        if error is None:
            self.accepted += 1
            return None, result
        self.refused += 1
        self.is_clear(error, fields, value)
        if self.due_for_translation():
            self.is_translated(call, str(error), value)
        return error, None

    def report(self, figures: Any, area: str, operations: int = 0) -> None:
        """Record the figures, then insist on zero violations (and on a real mix of cases)."""
        figures.add(
            area,
            cases=self.cases,
            operations=operations or self.cases + self.service_calls + 2 * self.translation_checks,
            violations=len(self.violations),
        )
        if self.pending:
            print(f"awaiting a Swedish translation: {sorted(self.pending)}")
        assert self.cases >= CASES, self.cases
        examples = list(dict.fromkeys(self.violations))[:25]
        assert not self.violations, f"{len(self.violations)} violations, e.g.\n" + "\n".join(
            examples
        )
