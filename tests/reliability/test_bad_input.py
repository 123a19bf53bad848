"""Bad input at the services (issue 9, part 5): amounts, phone numbers, e-mail addresses,
registration numbers, references and explanations — 10 000 cases each.

Every case goes through the field's rule, the function every service and screen calls
(``verkstad.money``, ``verkstad.orders.fields``); every fifth also through the service
that writes, on one migrated database: an accepted value must be stored as the rule
normalised it, and a refused one must leave the database exactly as it was (nothing
committed). Every refusal must be a DomainError naming the field; a sample is run again
in Swedish and in a pseudo-locale to prove it is translated. At the end no stored value
may be longer than its column (PostgreSQL would refuse what SQLite keeps).
"""

from __future__ import annotations

import random
import re
import string
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from hypothesis import given

from tests.helpers import customer, order_with_lines
from tests.reliability.fuzz import (
    FUZZ,
    SERVICE_EVERY,
    Fingerprint,
    Tally,
    cases_strategy,
    refusal_of,
    value_of,
)
from verkstad import failpoints
from verkstad.db import Database
from verkstad.errors import ConflictError, DomainError
from verkstad.failpoints import SimulatedCrash
from verkstad.i18n import _
from verkstad.money import MAX_MINOR, format_amount, parse_minor
from verkstad.mpay import service as mpay
from verkstad.mpay.models import PaymentRequest
from verkstad.mpay.service import MAX_EXPLANATION, SendForm
from verkstad.orders import fields as F
from verkstad.orders import service
from verkstad.orders.models import Customer, OrderLine, Vehicle
from verkstad.orders.service import CustomerInput, LineInput, VehicleInput
from verkstad.users import Actor

pytestmark = pytest.mark.reliability


@dataclass
class Bench:
    """One migrated database, its fingerprint and the tally of one test."""

    db: Database
    admin: Actor
    fingerprint: Fingerprint
    tally: Tally

    def service(
        self, call: Callable[[], object], fields: set[str], value: object
    ) -> DomainError | None:
        """Run a writing service: a refusal must be clear and must have changed nothing."""
        self.tally.service_calls += 1
        before = self.fingerprint()
        error = refusal_of(call)
        if error is not None:
            self.tally.is_clear(error, fields, value)
            if self.fingerprint() != before:
                self.tally.violation("a refused input changed the database", value)
        return error

    def finish(self, figures) -> None:  # type: ignore[no-untyped-def]
        for problem in self.fingerprint.too_long():
            self.tally.violation("a value longer than its column", problem)
        assert self.tally.accepted and self.tally.refused, "both kinds of input were tried"
        self.tally.report(figures, "bad input")


@pytest.fixture
def bench(db: Database, admin: Actor) -> Iterator[Bench]:
    fingerprint = Fingerprint(db)
    yield Bench(db, admin, fingerprint, Tally())
    fingerprint.close()


def fuzz(
    bench: Bench,
    plausible: Callable[[random.Random], tuple[str, object]],
    check: Callable[[str, object, bool], None],
) -> None:
    """Run ``check(text, meant, through_service)`` on 10 000 cases: ``meant`` is what a
    plausible value means (None: it must be refused, or it is not plausible)."""
    meanings: dict[str, object] = {}

    def typed(rnd: random.Random) -> str:
        text, meant = plausible(rnd)
        meanings[text] = meant
        return text

    @FUZZ
    @given(cases_strategy())
    def examples(batch: list[int | str]) -> None:
        for case in batch:
            bench.tally.cases += 1
            text, untouched = value_of(case, typed, bench.tally.cases)
            meant = meanings.get(text) if untouched else None
            meanings.clear()
            bench.tally.run(check, text, meant, bench.tally.cases % SERVICE_EVERY == 0)

    examples()


# ---------------------------------------------------------------- amounts


def typed_amount(rnd: random.Random) -> tuple[str, object]:
    """An amount as staff type it ("1 234,50", "-99.9 kr", "SEK 10") and the öre it means."""
    kronor = rnd.choice(
        [rnd.randint(0, 999), rnd.randint(0, 99_999), rnd.randint(0, 10**7), rnd.randint(0, 10**16)]
    )
    ore = rnd.randint(0, 99)
    group = rnd.choice(["", " ", "\u00a0", "\u202f"])
    digits = f"{kronor:,}".replace(",", group) if group else str(kronor)
    sep = rnd.choice([",", "."])
    text, minor = rnd.choice(
        [
            (digits, kronor * 100),
            (f"{digits}{sep}{ore // 10}", kronor * 100 + ore // 10 * 10),
            (f"{digits}{sep}{ore:02d}", kronor * 100 + ore),
        ]
    )
    sign = rnd.choice(["", "", "", "-", "\u2212"])
    before, after = rnd.choice([("", ""), ("", " kr"), ("SEK ", ""), ("", ":-"), ("", " SEK")])
    meant = -minor if sign else minor
    return f"{sign}{before}{text}{after}", meant if 0 <= meant <= MAX_MINOR else None


def test_amounts(bench: Bench, figures) -> None:
    """Unit price: whole öre within the limit, exactly what was meant, or a named refusal
    (naming the field as the line form labels it)."""
    line_id = (order := order_with_lines(bench.db, bench.admin)).lines[0].id
    field = _("Unit price excl. VAT")
    tally = bench.tally

    def check(text: str, meant: object, through_service: bool) -> None:
        error, minor = tally.outcome(
            lambda: parse_minor(text, field=_("Unit price excl. VAT")), {field}, text
        )
        if error is None:
            if type(minor) is not int or not 0 <= minor <= MAX_MINOR:
                tally.violation(f"accepted as {minor!r}", text)
            elif meant is not None and minor != meant:
                tally.violation(f"read as {minor} öre, meant {meant}", text)
            elif parse_minor(format_amount(minor)) != minor:
                tally.violation(f"{minor} öre does not survive its own display", text)
        elif meant is not None:
            tally.violation(f"refused an amount that means {meant} öre", text)
        if not through_service:
            return

        def update() -> object:
            return service.update_line(
                bench.db, bench.admin, order.number, line_id, LineInput("x", "1", text)
            )

        refused = bench.service(update, {field}, text)
        if (refused is None) != (error is None):
            tally.violation("the service and the rule disagree", text)
        elif refused is None:
            with bench.db.read() as s:
                line = s.get(OrderLine, line_id)
                assert line is not None
                if line.unit_price_minor != minor:
                    tally.violation(f"stored {line.unit_price_minor}, not {minor}", text)

    fuzz(bench, typed_amount, check)
    bench.finish(figures)


# ---------------------------------------------------------------- phone numbers

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def typed_phone(rnd: random.Random) -> tuple[str, object]:
    """A number as customers say it: Swedish mobiles in every spelling (with the E.164
    they mean), Norwegian ones, landlines, short and long ones."""
    prefix = rnd.choice(["70", "72", "73", "76", "79"])
    rest = "".join(rnd.choice(string.digits) for _ in range(7))
    national = f"0{prefix}{rest}"
    e164 = f"+46{prefix}{rest}"
    shapes = [
        (national, e164),
        (f"0{prefix}-{rest[:3]} {rest[3:5]} {rest[5:]}", e164),
        (f"0{prefix} {rest[:3]} {rest[3:5]} {rest[5:]}", e164),
        (f"+46 {prefix} {rest[:3]} {rest[3:5]} {rest[5:]}", e164),
        (f"+46 (0){prefix}-{rest}", e164),
        (f"0046{prefix}{rest}", e164),
        (f"+47 9{rest[:2]} {rest[2:4]} {rest[4:]}", None),  # Norwegian mobile
        (f"08-{rest[:3]} {rest[3:5]} {rest[5:]}", None),  # a Stockholm landline
        (f"0{prefix}{rest[: rnd.randint(0, 6)]}", None),  # too short
        (f"0{prefix}{rest}{rnd.randint(0, 99999)}", None),  # too long
        (f"+{rnd.randint(1, 999)}{rest}{rnd.randint(0, 9999)}", None),
    ]
    return rnd.choice(shapes)


def test_phone_numbers(bench: Bench, figures) -> None:
    """Mobile phone: E.164 that normalises to itself, or a named refusal; a customer card
    keeps exactly what the rule made of it."""
    number = customer(bench.db, bench.admin)
    field = _("Mobile phone")
    tally = bench.tally

    def check(text: str, meant: object, through_service: bool) -> None:
        error, normal = tally.outcome(lambda: F.normalise_phone(text), {field}, text)
        if normal is not None:
            if not _E164.match(normal):
                tally.violation(f"accepted as {normal!r}", text)
            elif F.normalise_phone(normal) != normal:
                tally.violation(f"{normal} does not normalise to itself", text)
            elif F.normalise_phone(F.display_phone(normal)) != normal:
                tally.violation(f"{normal} does not survive its own display", text)
            elif meant is not None and normal != meant:
                tally.violation(f"read as {normal}, meant {meant}", text)
        elif meant is not None:
            tally.violation(f"refused {meant}", text)
        if not through_service:
            return
        form = CustomerInput("Fuzz Fuzzsson", phone=text)
        if not text.strip():
            return  # an empty phone is allowed on a customer card (it is optional there)
        refused = bench.service(
            lambda: service.update_customer(bench.db, bench.admin, number, form), {field}, text
        )
        if (refused is None) != (error is None):
            tally.violation("the service and the rule disagree", text)
        elif refused is None:
            with bench.db.read() as s:
                stored = s.exec(_customer(number)).one().phone
            if stored != normal:
                tally.violation(f"stored {stored!r}, not {normal!r}", text)

    fuzz(bench, typed_phone, check)
    bench.finish(figures)


def _customer(number: int):  # type: ignore[no-untyped-def]
    from sqlmodel import select

    return select(Customer).where(Customer.number == number)


# ---------------------------------------------------------------- e-mail addresses

_ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def valid_email(address: str) -> bool:
    """RFC 5321/5322 in the form mail servers take: dot-atom local part (≤ 64), host name."""
    local, at, domain = address.rpartition("@")
    labels = domain.split(".")
    return bool(
        at
        and 0 < len(local) <= 64
        and _DOT_ATOM.match(local)
        and len(labels) >= 2
        and all(_LABEL.match(label) for label in labels)
        and len(address) <= 200
    )


def typed_email(rnd: random.Random) -> tuple[str, object]:
    def word(alphabet: str, low: int = 1, high: int = 12) -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(low, high)))

    local = ".".join(word(string.ascii_letters + string.digits + "_%+-") for _ in range(3))
    local = local[: rnd.choice([3, 20, 64, 70])]
    domain = ".".join(
        word(string.ascii_lowercase + string.digits, 1, 20) for _ in range(rnd.randint(1, 3))
    )
    domain += "." + rnd.choice(["se", "SE", "no", "com", "Example", "museum"])
    shapes = [
        f"{local}@{domain}",
        f"{local}@{domain}",
        f" {local}@{domain} ",
        f"{local}.@{domain}",
        f".{local}@{domain}",
        f"{local}@{domain}.",
        f"{local}@-{domain}",
        f"{local}@@{domain}",
        f"{local}@{domain}\n",
        f"{word(_ATEXT)}@{domain}",
        f"{local}@{domain}\nBcc: x@example.se",
        f"Anna <{local}@{domain}>",
        f"{local}@{domain}, x@example.se",
        f"åsa@{domain}",
        f"{local}@exempel-åäö.se",
    ]
    text = rnd.choice(shapes)
    stripped = text.strip()
    meant = None
    if valid_email(stripped):
        head, _at, tail = stripped.rpartition("@")
        meant = f"{head}@{tail.lower()}"
    return text, meant


def test_email_addresses(bench: Bench, figures) -> None:
    """E-mail: only addresses a mail server takes (one address, no header tricks), the
    domain in lower case, or a named refusal."""
    number = customer(bench.db, bench.admin)
    field = _("E-mail")
    tally = bench.tally

    def check(text: str, meant: object, through_service: bool) -> None:
        error, normal = tally.outcome(lambda: F.normalise_email(text), {field}, text)
        if normal is not None:
            if not valid_email(normal):
                tally.violation(f"accepted {normal!r}, which no mail server takes", text)
            elif F.normalise_email(normal) != normal:
                tally.violation(f"{normal} does not normalise to itself", text)
            elif meant is not None and normal != meant:
                tally.violation(f"read as {normal}, meant {meant}", text)
        elif meant is not None:
            tally.violation(f"refused {meant}", text)
        if not through_service or not text.strip():
            return
        form = CustomerInput("Fuzz Fuzzsson", email=text)
        refused = bench.service(
            lambda: service.update_customer(bench.db, bench.admin, number, form), {field}, text
        )
        if (refused is None) != (error is None):
            tally.violation("the service and the rule disagree", text)
        elif refused is None:
            with bench.db.read() as s:
                stored = s.exec(_customer(number)).one().email
            if stored != normal:
                tally.violation(f"stored {stored!r}, not {normal!r}", text)

    fuzz(bench, typed_email, check)
    bench.finish(figures)


# ---------------------------------------------------------------- registration numbers

_REG = re.compile(r"^[A-ZÅÄÖÆØ0-9]{2,8}$")


def typed_reg(rnd: random.Random) -> tuple[str, object]:
    letters = "".join(rnd.choice(string.ascii_uppercase) for _ in range(3))
    digits = "".join(rnd.choice(string.digits) for _ in range(5))
    shapes = [
        f"{letters}{digits[:3]}",  # ABC123
        f"{letters} {digits[:3]}",
        f"{letters}-{digits[:3]}",
        f"{letters.lower()}{digits[:2]}{rnd.choice(string.ascii_lowercase)}",  # abc12d
        f"{letters[:2]} {digits}",  # Norwegian AB 12345
        f"ÅÄÖ{digits[:3]}",
        f"{letters}{digits}",  # 8: the longest allowed
        f"{letters}{digits}{rnd.choice(string.digits)}",  # 9: too long
        letters[:1],  # too short
        f"{letters}_{digits[:3]}",
        f"{letters}{digits[:3]}\u00ad",  # a soft hyphen
    ]
    text = rnd.choice(shapes)
    compact = re.sub(r"[ \-]", "", text).upper()
    return text, compact if _REG.match(compact) else None


def test_registration_numbers(bench: Bench, figures) -> None:
    """Registration number: 2–8 capitals and digits, normalising to itself, or a named
    refusal; a vehicle is stored under exactly that (a second one is refused by name)."""
    number = customer(bench.db, bench.admin)
    field = _("Registration number")
    tally = bench.tally

    def check(text: str, meant: object, through_service: bool) -> None:
        error, normal = tally.outcome(lambda: F.normalise_reg(text), {field}, text)
        if normal is not None:
            if not _REG.match(normal):
                tally.violation(f"accepted as {normal!r}", text)
            elif F.normalise_reg(normal) != normal:
                tally.violation(f"{normal} does not normalise to itself", text)
            elif meant is not None and normal != meant:
                tally.violation(f"read as {normal}, meant {meant}", text)
        elif meant is not None:
            tally.violation(f"refused {meant}", text)
        if not through_service:
            return
        fields = {field} | ({normal} if normal else set())
        refused = bench.service(
            lambda: service.add_vehicle(bench.db, bench.admin, number, VehicleInput(text)),
            fields,
            text,
        )
        if refused is None and error is not None:
            tally.violation("the service took what the rule refuses", text)
        elif refused is not None and error is None and not isinstance(refused, ConflictError):
            tally.violation(f"the service refused what the rule takes: {refused}", text)
        elif refused is None:
            from sqlmodel import select

            with bench.db.read() as s:
                found = s.exec(select(Vehicle).where(Vehicle.reg_number == normal)).first()
            if found is None:
                tally.violation(f"no vehicle stored as {normal!r}", text)

    fuzz(bench, typed_reg, check)
    bench.finish(figures)


# ---------------------------------------------------------------- references and explanations

_SCRIPTS = [
    string.ascii_letters + string.digits + " -/#",
    "ÅÄÖåäöØøÆæ",
    "АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЭЮЯабвгд №",
    "αβγδεζηθικλμνξοπρστυφχψω",
    "你好世界订单号发票",
    "注文番号請求書カタカナ",
    "עבריתשלום",
    "طلبفاتورةرقم",
    "हिन्दीआदेश",
    "🚗🔧💳✅",
]


def typed_text(rnd: random.Random, lengths: list[int]) -> str:
    alphabet = "".join(rnd.sample(_SCRIPTS, rnd.randint(1, 3)))
    return "".join(rnd.choices(alphabet, k=rnd.choice(lengths))).strip() or "x"


def typed_reference(rnd: random.Random) -> tuple[str, object]:
    text = typed_text(rnd, [1, 5, 12, 40, 64, 65, 99, 100, 101, 150])
    return text, text if len(text) <= 100 else None


def typed_explanation(rnd: random.Random) -> tuple[str, object]:
    text = typed_text(rnd, [0, 20, 120, 499, 500, 501, 800])
    return text, text if len(text) <= MAX_EXPLANATION else None


@pytest.fixture
def payments(bench: Bench) -> Iterator[Callable[[SendForm], str | DomainError]]:
    """A free payment request through the real service, stopped right after its commit
    (the provider is never called): the reference it stored, or the refusal."""
    number = customer(bench.db, bench.admin)

    def providers(name: str):  # type: ignore[no-untyped-def]
        raise AssertionError("the provider is not called before the commit")

    def request(form: SendForm) -> str | DomainError:
        failpoints.arm("send.after_commit")
        try:
            mpay.request_payment(bench.db, providers, bench.admin, number, form)
        except SimulatedCrash:
            from sqlmodel import col, select

            with bench.db.read() as s:
                return (
                    s.exec(
                        select(PaymentRequest.reference).order_by(col(PaymentRequest.id).desc())
                    ).first()
                    or ""
                )
        except DomainError as e:
            return e
        finally:
            failpoints.disarm_all()
        raise AssertionError("the failpoint after the commit was not reached")

    yield request


def test_references(bench: Bench, payments, figures) -> None:
    """Reference: any alphabet, at most 100 characters, unique — the same text again (also
    spelt with decomposed accents or padded with spaces) is refused, naming the field."""
    field = _("Reference")
    tally = bench.tally
    stored: set[str] = set()

    def check(text: str, meant: object, through_service: bool) -> None:
        error, clean = tally.outcome(
            lambda: F.clean_text(text, _("Reference"), 100, required=True), {field}, text
        )
        if clean is not None:
            if clean != unicodedata.normalize("NFC", clean) or clean != clean.strip():
                tally.violation(f"accepted as {clean!r}", text)
            elif meant is not None and clean != meant:
                tally.violation(f"read as {clean!r}", text)
        elif meant is not None:
            tally.violation("refused a plain reference", text)
        if not through_service:
            return
        tally.service_calls += 1
        before = bench.fingerprint()
        outcome = payments(SendForm(reference=text, amount="100"))
        if isinstance(outcome, DomainError):
            tally.is_clear(outcome, {field}, text)
            if bench.fingerprint() != before:
                tally.violation("a refused reference changed the database", text)
            if error is None and clean not in stored:
                tally.violation(f"refused a new reference: {outcome}", text)
            return
        if error is not None or clean in stored:
            tally.violation("took a reference it must refuse", text)
        if outcome != clean:
            tally.violation(f"stored {outcome!r}, not {clean!r}", text)
        stored.add(outcome)
        for again in (outcome, f"  {unicodedata.normalize('NFD', outcome)} "):
            tally.service_calls += 1
            before = bench.fingerprint()
            second = payments(SendForm(reference=again, amount="100"))
            if not isinstance(second, DomainError):
                tally.violation("the same reference was taken twice", again)
                continue
            tally.is_clear(second, {field}, again)
            if bench.fingerprint() != before:
                tally.violation("a refused reference changed the database", again)

    fuzz(bench, typed_reference, check)
    assert len(stored) > 100
    _payments_export(bench, stored, figures)
    bench.finish(figures)


def _payments_export(bench: Bench, references: set[str], figures) -> None:  # type: ignore[no-untyped-def]
    """Part 6 on what part 5 stored: the payments list exported in both dialects keeps
    every reference, cell for cell, and no cell is one a spreadsheet would run."""
    import csv
    import io

    from verkstad.ledger.csv_export import Dialect, export_payments

    found = 0
    for dialect, delimiter in ((Dialect.excel, ";"), (Dialect.plain, ",")):
        out = io.StringIO(newline="")
        export_payments(bench.db, bench.admin, out, dialect=dialect)
        text = out.getvalue().removeprefix("\ufeff")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        width = len(rows[0])
        cells = {c for r in rows[1:] for c in r}
        for row in rows[1:]:
            if len(row) != width:
                bench.tally.violation("a payments export row changed shape", row)
            for cell in row:
                if cell.startswith(("=", "+", "@", "\t", "\r")) or (
                    cell.startswith("-") and not re.fullmatch(r"-\d+([.,]\d+)?", cell)
                ):
                    bench.tally.violation("a spreadsheet would run the cell", cell)
        missing = {r for r in references if r not in cells and "'" + r not in cells}
        if missing:
            bench.tally.violation("the payments export lost references", sorted(missing)[:3])
        found += len(references) - len(missing)
    figures.add("exports", cases=found, operations=2)


def test_explanations(bench: Bench, payments, figures) -> None:
    """Explanation: any alphabet up to 500 characters (the 501st is refused, naming the
    field); what is stored is exactly what the rule made of it."""
    field = _("Explanation")
    tally = bench.tally
    serial = iter(range(10**9))

    def check(text: str, meant: object, through_service: bool) -> None:
        error, clean = tally.outcome(
            lambda: F.clean_text(text, _("Explanation"), MAX_EXPLANATION), {field}, text
        )
        if clean is not None:
            if len(clean) > MAX_EXPLANATION:
                tally.violation(f"accepted {len(clean)} characters", text)
            elif meant is not None and clean != meant:
                tally.violation(f"read as {clean!r}", text)
        elif meant is not None:
            tally.violation("refused a plain explanation", text)
        if not through_service:
            return
        tally.service_calls += 1
        before = bench.fingerprint()
        reference = f"E-{next(serial)}"
        outcome = payments(SendForm(reference=reference, explanation=text, amount="100"))
        if isinstance(outcome, DomainError):
            tally.is_clear(outcome, {field}, text)
            if bench.fingerprint() != before:
                tally.violation("a refused explanation changed the database", text)
            if error is None:
                tally.violation(f"refused what the rule takes: {outcome}", text)
            return
        from sqlmodel import select

        with bench.db.read() as s:
            found = s.exec(
                select(PaymentRequest.explanation).where(PaymentRequest.reference == reference)
            ).one()
        if error is not None or found != clean:
            tally.violation(f"stored {found!r}", text)

    fuzz(bench, typed_explanation, check)
    bench.finish(figures)
