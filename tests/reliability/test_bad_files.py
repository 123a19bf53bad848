"""Bad files (issue 9, part 5): configuration files (and VERKSTAD_* variables) and provider
settlement reports — 10 000 cases each.

A configuration is loaded or refused with a ConfigError that names the file and the key
(or the line) in words that went through gettext. A settlement report is read or refused
naming the line; every tenth is imported into one database: a refused report changes
nothing, an accepted one books balanced verifications whose texts a SIE file can hold,
and importing it again books nothing more.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given

from tests.ledger.builders import paid_by_mobile
from tests.ledger.fakes import FakeProvider
from tests.reliability.fuzz import (
    FUZZ,
    SERVICE_EVERY,
    Fingerprint,
    Tally,
    cases_strategy,
    marked,
    outcome_of,
    pseudo_locale,
    scratch_folder,
    value_of,
)
from verkstad import i18n
from verkstad.config import Settings, load_settings
from verkstad.db import Database
from verkstad.errors import ConfigError, DomainError, ValidationError
from verkstad.i18n import LANGUAGES, _
from verkstad.ledger.journal import iter_verifications
from verkstad.ledger.posting import post_order
from verkstad.ledger.settlement import FORMATS, import_settlement, read_report
from verkstad.ledger.sie import to_cp437
from verkstad.mpay.models import PaymentRequest
from verkstad.quick_settings import QUICK, quick_settings
from verkstad.users import Actor

pytestmark = pytest.mark.reliability


# ---------------------------------------------------------------- configuration files

_VALUES = [
    "1",
    "0",
    "-1",
    "65536",
    "8",
    "99999999999999999999999",
    "1.5",
    "nan",
    "inf",
    "-0.0",
    "true",
    "false",
    '"sv"',
    '"xx"',
    '""',
    '"ssl"',
    '"starttls"',
    "'raw'",
    '"""multi\nline"""',
    '"\\u00e5"',
    '"\\q"',
    "[7, 14]",
    "[14, 7]",
    "[0]",
    '["day", "week"]',
    '["year"]',
    "[]",
    '"7, 14"',
    "{ a = 1 }",
    '{ send_payment = "f2" }',
    "2024-01-01",
    "1979-05-27T07:32:00Z",
    "0x10",
    "1_000",
]
_TOP = [
    "lang",
    "database_url",
    "user",
    "sandbox_url",
    "http_timeout_seconds",
    "poll_interval_seconds",
    "capture_window_minutes",
    "keys",
    "no_such_setting",
    "smtp",
]
_TABLES = {
    "smtp": ["host", "port", "security", "username", "password", "sender", "nope"],
    "reminders": ["days_after_due", "hour", "fee_minor"],
    "reports": ["periods", "folder", "email"],
    "printing": ["folder", "command"],
    "vipps": ["base_url", "client_secret", "merchant_serial_number"],
    "swish": ["payee_alias", "cert_file"],
    "sms": ["sender", "password"],
    "keys": ["send_payment", "check_payment"],
    "nosuchtable": ["x"],
}


def typed_config(rnd: random.Random) -> tuple[str, object]:
    """A config.toml as people write them: known and unknown keys, values of every kind."""
    lines = [f"{k} = {rnd.choice(_VALUES)}" for k in rnd.sample(_TOP, rnd.randint(0, 3))]
    for table in rnd.sample(sorted(_TABLES), rnd.randint(0, 3)):
        lines.append(f"[{table}]")
        keys = _TABLES[table]
        lines += [
            f"{k} = {rnd.choice(_VALUES)}"
            for k in rnd.sample(keys, min(len(keys), rnd.randint(1, 2)))
        ]
    if rnd.random() < 0.3:  # a valid file, to be sure the accepting path is taken
        lines = ['lang = "en"', "[smtp]", "port = 587", 'security = "starttls"']
    return "\n".join(lines) + "\n", None


_ENV = [
    "LANG",
    "HTTP_TIMEOUT_SECONDS",
    "POLL_INTERVAL_SECONDS",
    "CAPTURE_WINDOW_MINUTES",
    "SMTP__PORT",
    "SMTP__SECURITY",
    "REMINDERS__DAYS_AFTER_DUE",
    "REMINDERS__HOUR",
    "REPORTS__PERIODS",
    "KEYS",
    "SMTP__NOPE",
]


def _check_settings(tally: Tally, settings: Settings, value: object) -> None:
    """What an accepted configuration must hold (the rest of verkstad relies on it)."""
    if settings.lang not in LANGUAGES:
        tally.violation(f"accepted lang {settings.lang!r}", value)
    if not 1 <= settings.smtp.port <= 65535 or settings.smtp.security not in (
        "none",
        "starttls",
        "ssl",
    ):
        tally.violation("accepted a broken [smtp]", value)
    days = settings.reminders.days_after_due
    if any(d < 1 for d in days) or days != sorted(set(days)):
        tally.violation(f"accepted days_after_due {days}", value)
    settings.masked()  # `config show` works on whatever was accepted


def _check_quick(
    tally: Tally, path: Path, environ: dict[str, str], full: Settings | None, value: object
) -> None:
    """The counter's fast path (verkstad.quick_settings) reads the same file and variables:
    it may decline (None), but what it does read is what the full load reads."""
    quick = quick_settings(environ=environ, path=path)  # never raises: a crash is recorded
    if quick is None:
        return
    tally.service_calls += 1  # (counted: the fast path was taken)
    if full is None:
        tally.violation("the quick settings took what the full load refuses", value)
        return
    for name in QUICK:
        if getattr(quick, name) != getattr(full, name):
            tally.violation(f"quick {name} = {getattr(quick, name)!r}, full: different", value)


def _is_translated_config(tally: Tally, call, english: str, value: object) -> None:  # type: ignore[no-untyped-def]
    """Swedish reads differently, and in the pseudo-locale the reason came through gettext."""
    tally.translation_checks += 1
    with pseudo_locale() as asked:
        pseudo, _r = outcome_of(call)
    with i18n.using_language("sv"):
        swedish, _r = outcome_of(call)
    tally.swedish(english, None if swedish is None else str(swedish), asked, value)
    reason = getattr(pseudo, "reason", "")
    if not isinstance(pseudo, ConfigError) or not marked(str(pseudo)) or not marked(reason):
        tally.violation(f"a part of {pseudo!s} bypasses gettext", value)


def test_config_files(tmp_path: Path, figures) -> None:
    """config.toml and VERKSTAD_* variables: Settings that keep their rules, or a refusal
    naming the file and the key or line (or the variable)."""
    tally = Tally()
    scratch = scratch_folder(tmp_path)
    path = scratch / "config.toml"
    folder = scratch / "a-folder.toml"
    folder.mkdir()

    def check(text: str, serial: int) -> None:
        environ: dict[str, str] = {}
        target = path
        if serial % 4 == 0:  # a variable instead of the file
            rnd = random.Random(serial)
            name = "VERKSTAD_" + rnd.choice(_ENV)
            environ = {name: text.strip()[:40].replace("\x00", "")}
            path.write_text("", encoding="utf-8")
            fields = {name}
        elif serial % 250 == 1:  # a folder where the file should be
            target, fields = folder, {str(folder)}
        else:
            data = text.encode("utf-8")
            if serial % 13 == 0:
                data = data[: len(data) // 2] + b"\xff\xfe" + data[len(data) // 2 :]
            path.write_bytes(data)
            fields = {str(path)}

        def load() -> Settings:
            return load_settings(target, environ=environ)

        error, settings = outcome_of(load)
        _check_quick(tally, target, environ, settings, text)
        if error is None:
            tally.accepted += 1
            _check_settings(tally, settings, text)
            return
        tally.refused += 1
        message = str(error)
        if not isinstance(error, ConfigError):
            tally.violation(f"refused with {type(error).__name__}: {message}", text)
        if not all(f in message for f in fields):
            tally.violation(f"{message!r} does not name {fields}", text)
        elif target == path and not environ and "key '" not in message and "line" not in message:
            tally.violation(f"{message!r} names neither a key nor a line", text)
        if tally.due_for_translation():
            _is_translated_config(tally, load, message, text)

    @FUZZ
    @given(cases_strategy())
    def examples(batch: list[int | str]) -> None:
        for case in batch:
            tally.cases += 1
            text, _untouched = value_of(case, lambda rnd: typed_config(rnd)[0], tally.cases)
            tally.run(check, text, tally.cases)

    examples()
    if scratch != tmp_path:
        shutil.rmtree(scratch)
    assert tally.accepted > 500 and tally.refused > 500 and tally.service_calls > 100
    tally.report(figures, "bad input")


# ---------------------------------------------------------------- settlement reports


class Books:
    """One database with three payments posted as MOBIL, for reports to match."""

    def __init__(self, db: Database, admin: Actor) -> None:
        provider = FakeProvider()
        self.db, self.admin = db, admin
        for _i in range(3):
            post_order(db, admin, paid_by_mobile(db, admin, provider))
        from sqlmodel import select

        with db.read() as s:
            self.payments = [
                (r.reference, r.provider_ref or "", r.captured_minor, r.currency)
                for r in s.exec(select(PaymentRequest))
            ]


@pytest.fixture
def books(db: Database, admin: Actor) -> Iterator[Books]:
    yield Books(db, admin)


def _amount(rnd: random.Random, minor: int) -> str:
    return rnd.choice(
        [
            f"{minor / 100:.2f}",
            f"{minor / 100:.2f}",
            f"{minor // 100}",
            f"{minor / 100:.2f}".replace(".", ","),
            "",
            "-0.00",
            f"{rnd.randint(10**15, 10**25)}.00",
            f"-{rnd.randint(10**15, 10**25)}.00",
            "1e5",
        ]
    )


def typed_report(books: Books, rnd: random.Random) -> str:
    """A provider's settlement report: its header, payments (some ours), a payout row —
    well-formed about half the time, else with one kind of damage or another."""
    name = rnd.choice(sorted(FORMATS))
    fmt = FORMATS[name]
    kinds = list(fmt.kinds)
    broken = rnd.random() < 0.5

    def pick(good: list[str], bad: list[str]) -> str:
        return rnd.choice(bad if broken and rnd.random() < 0.3 else good)

    payout = pick(["P-1", f"P-{rnd.randint(1, 10**6)}", "utbet. 2025-03", "付款-7", "Ø-1"],
                  ["x" * 150, "=cmd|' /C calc'!A0", "\x00"])  # fmt: skip
    day = pick(["2025-03-17", "2025-03-17T09:00:00Z"], ["17/3/2025", "", "2025-02-30"])
    currency = pick(["SEK", "sek"], ["XXX", "", "KR"])
    rows, sums = [], [0, 0, 0, 0]
    for _i in range(rnd.randint(0, 5)):
        ours = rnd.choice(books.payments)
        reference = rnd.choice([ours[0], ours[0], "unknown-ref", "", "=HYPERLINK(1)"])
        gross = rnd.choice([ours[2], ours[2], rnd.randint(-(10**6), 10**6)])
        fee = rnd.choice([0, 250, rnd.randint(0, 10**4)])
        if broken and rnd.random() < 0.3:
            gross, fee = rnd.choice([(ours[2], 10**20), (10**22, 0), (-(10**22), 0)])
        fee_vat = rnd.choice([0, fee // 4])
        net = gross - fee - fee_vat if rnd.random() < 0.9 else rnd.randint(-(10**6), 10**6)
        kind = pick(kinds[:2], ["OKÄND", ""])
        amounts = [f"{x / 100:.2f}" if x < 10**15 else f"{x // 100}.{x % 100:02d}"
                   for x in (gross, fee, fee_vat, net)]  # fmt: skip
        if broken and rnd.random() < 0.3:
            amounts[rnd.randrange(4)] = rnd.choice(["", "1,50", "12", "1e5", "-0.00", "NaN"])
        rows.append([payout, day, currency, "2025-03-14", kind, ours[1], "", reference, *amounts])
        sums = [a + b for a, b in zip(sums, (gross, fee, fee_vat, net), strict=True)]
    if rnd.random() < 0.7:
        total = [f"{x // 100}.{x % 100:02d}" if x >= 0 else f"-{-x // 100}.{-x % 100:02d}"
                 for x in sums] if not broken or rnd.random() < 0.5 else ["1.00"] * 4  # fmt: skip
        rows.append([payout, day, currency, "", kinds[2], "", "", "", *total])
    if broken and rnd.random() < 0.2:
        rows.append(["too", "few", "fields"])
    out = io.StringIO()
    writer = csv.writer(out, delimiter=fmt.delimiter, lineterminator=rnd.choice(["\n", "\r\n"]))
    writer.writerow(fmt.header)
    writer.writerows(rows)
    return out.getvalue()


def test_settlement_reports(books: Books, figures) -> None:
    """Settlement report: read, or refused naming the report or its line; every tenth is
    imported (a refusal changes nothing; what is booked balances, fits a SIE file, and is
    never booked twice)."""
    db, admin = books.db, books.admin
    fingerprint = Fingerprint(db)
    tally = Tally()
    booked_before = 0

    names = {_("Settlement report")} | {_("Line {n}").format(n=n) for n in range(1, 10)}

    def fields() -> set[str]:
        return names

    def check(data: bytes, through_service: bool) -> None:
        nonlocal booked_before
        error, _report = tally.outcome(lambda: read_report(data), fields(), data)
        if error is not None and not isinstance(error, ValidationError):
            tally.violation(f"refused with {type(error).__name__}", data)
        if not through_service:
            return
        tally.service_calls += 1
        before = fingerprint()
        refused, result = outcome_of(lambda: import_settlement(db, admin, data, "rapport.csv"))
        if (refused is None) != (error is None):
            tally.violation(f"reading and importing disagree: {refused}", data)
        if refused is not None:
            tally.is_clear(refused, fields(), data)
            if fingerprint() != before:
                tally.violation("a refused report changed the database", data)
            return
        verifications = [v for v in iter_verifications(db) if v.kind == "settlement"]
        for v in verifications[booked_before:]:
            if sum(r.amount_minor for r in v.rows):
                tally.violation(f"verification {v.number} does not balance", data)
            try:
                to_cp437(v.text, "text")
            except DomainError:
                tally.violation(f"verification text {v.text!r} cannot go into SIE", data)
        booked_before = len(verifications)
        tally.service_calls += 1
        again = import_settlement(db, admin, data, "rapport.csv")
        if again.count("booked"):
            tally.violation("a second import booked again", data)
        if result.count("booked") + result.count("already_booked") > len(result.outcomes):
            tally.violation("more booked than there were lines", data)

    @FUZZ
    @given(cases_strategy())
    def examples(batch: list[int | str]) -> None:
        for case in batch:
            tally.cases += 1
            text, _untouched = value_of(case, lambda rnd: typed_report(books, rnd), tally.cases)
            data = text.encode("utf-8")
            if tally.cases % 17 == 0:
                data = b"\xff" + data
            tally.run(check, data, tally.cases % SERVICE_EVERY == 0)

    examples()
    for problem in fingerprint.too_long():
        tally.violation("a value longer than its column", problem)
    fingerprint.close()
    assert tally.accepted > 1000 and tally.refused > 1000
    assert booked_before > 0, "some lines matched and were booked"
    tally.report(figures, "bad input")
