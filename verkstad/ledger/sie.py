"""SIE 4 (spec 4B): the 4I voucher file and the 4E year file, plus a strict reader.

Bytes are CP437 (#FORMAT PC8) with CRLF line ends; every string is quoted
with ``\\"`` and ``\\\\`` escaped; dates are YYYYMMDD; amounts have a point
and two decimals, debit positive. A character CP437 cannot hold is
transliterated when there is a faithful plain form (ø → ö, – → -, € → EUR,
č → c) and refused otherwise — never written as garbage.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import BinaryIO

from verkstad import __version__
from verkstad.clock import local, today
from verkstad.db import Database
from verkstad.errors import DomainError, ValidationError
from verkstad.i18n import _
from verkstad.ledger.accounts import load_chart, setting
from verkstad.ledger.journal import VerificationView, balances, iter_verifications
from verkstad.orders.service import company_row

SIE_TYPES = ("4i", "4e")
CRLF = b"\r\n"
_TRANSLIT = {
    "ø": "ö",
    "Ø": "Ö",
    "œ": "oe",
    "Œ": "OE",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "Th",
    "ı": "i",
    "€": "EUR",
    "–": "-",
    "—": "-",
    "‐": "-",
    "−": "-",
    "‘": "'",
    "’": "'",
    "‚": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "«": '"',
    "»": '"',
    "…": "...",
    "•": "*",
    "™": "TM",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
}


class SieEncodingError(ValidationError):
    """A character that neither CP437 nor a faithful transliteration can hold."""


def _fits(text: str) -> bool:
    try:
        text.encode("cp437")
    except UnicodeEncodeError:
        return False
    return True


def _plain_char(char: str) -> str | None:
    if unicodedata.category(char) == "Cc":
        return " "
    if _fits(char):
        return char
    if char in _TRANSLIT:
        return _TRANSLIT[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base and base != char and _fits(base) else None


def to_cp437(text: str, where: str) -> str:
    """``text`` as CP437 can hold it, or SieEncodingError naming ``where`` and the character.
    Accents typed as a letter and a combining mark (e + ´) are joined first (é)."""
    text = unicodedata.normalize("NFC", text)
    if text.isprintable() and _fits(text):  # the common case, one encode for the whole
        return text
    out = []
    for char in text:
        plain = _plain_char(char)
        if plain is None:
            shown = " ".join(text.split())
            raise SieEncodingError(
                where,
                _(
                    "the character “{char}” (U+{code:04X}) cannot be written in a SIE file "
                    "(CP437); change the text “{text}”"
                ).format(
                    char=char,
                    code=ord(char),
                    text=shown if len(shown) <= 60 else shown[:59] + "…",
                ),
            )
        out.append(plain)
    return "".join(out)


def book_text(text: str) -> str:
    """Free text for a voucher (a customer's name): what CP437 cannot hold is left out."""
    plain = (_plain_char(c) for c in unicodedata.normalize("NFC", text))
    return "".join(p for p in plain if p is not None).strip()


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sie_string(text: str, where: str) -> str:
    """A quoted SIE string: transliterated first, then quoted — a character whose plain
    form is a quote or a backslash (“ ” „ « » ＂ ＼) must be escaped like one, or it
    would end the string and shift every field after it."""
    return quote(to_cp437(text, where))


def amount(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def sie_date(d: date) -> str:
    return d.strftime("%Y%m%d")


def org_number(text: str) -> str:
    """nnnnnn-nnnn, as #ORGNR wants it."""
    digits = re.sub(r"\D", "", text)
    if len(digits) == 12 and digits.startswith(("16", "19", "20")):
        digits = digits[2:]
    if len(digits) != 10:
        raise ValidationError(
            _("Organisation number"),
            _("set it for the company (ten digits, nnnnnn-nnnn) before exporting SIE"),
        )
    return f"{digits[:6]}-{digits[6:]}"


# ---------------------------------------------------------------- writing


@dataclass(frozen=True)
class SieHeader:
    company_name: str
    org_number: str
    currency: str
    generated: date
    sie_type: str  # 4i | 4e
    series: str
    year: tuple[date, date] | None = None  # #RAR 0, for 4E


@dataclass(frozen=True)
class SieBalances:
    """4E: opening (#IB) and closing (#UB) balances, period result (#RES), by account."""

    opening: dict[str, int]
    closing: dict[str, int]
    result: dict[str, int]


class _Writer:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    def record(self, label: str, *fields: str, where: str = "") -> None:
        line = " ".join((label, *fields))
        self.out.write(to_cp437(line, where or label).encode("cp437") + CRLF)


def write_sie(
    out: BinaryIO,
    header: SieHeader,
    accounts: dict[str, str],
    vouchers: Iterable[VerificationView],
    sums: SieBalances | None = None,
) -> int:
    """Write one SIE 4 file; returns the number of vouchers written."""
    w = _Writer(out)
    w.record("#FLAGGA", "0")
    w.record("#PROGRAM", quote("verkstad"), quote(__version__))
    w.record("#FORMAT", "PC8")
    w.record("#GEN", sie_date(header.generated))
    w.record("#SIETYP", "4")
    w.record("#ORGNR", header.org_number)
    company = _("Company name")
    w.record("#FNAMN", sie_string(header.company_name, company), where=company)
    if header.year is not None:
        w.record("#RAR", "0", sie_date(header.year[0]), sie_date(header.year[1]))
    w.record("#VALUTA", header.currency)
    for number, name in sorted(accounts.items()):
        where = _("Account {n}").format(n=number)
        w.record("#KONTO", number, sie_string(name, where), where=where)
    if sums is not None:
        for label, values in (("#IB", sums.opening), ("#UB", sums.closing)):
            for number, value in sorted(values.items()):
                w.record(label, "0", number, amount(value))
        for number, value in sorted(sums.result.items()):
            w.record("#RES", "0", number, amount(value))
    count = 0
    for v in vouchers:
        where = _("Verification {n}").format(n=v.number)
        number = str(v.number) if header.sie_type == "4e" else '""'
        booked, registered = sie_date(v.booked_on), sie_date(local(v.created_at).date())
        series, text = sie_string(header.series, where), sie_string(v.text, where)
        fields = (series, number, booked, text, registered)
        w.record("#VER", *fields, where=where)
        out.write(b"{" + CRLF)
        for row in v.rows:
            w.record("   #TRANS", row.account, "{}", amount(row.amount_minor), where=where)
        out.write(b"}" + CRLF)
        count += 1
    return count


def _is_balance_account(number: str) -> bool:
    return number[0] in "12"


def export_sie(
    db: Database, out: BinaryIO, date_from: date, date_to: date, sie_type: str = "4i"
) -> int:
    """The verifications booked from ``date_from`` to ``date_to`` (inclusive) as SIE 4I or 4E.

    4E adds the chart (#KONTO), the year (#RAR), the balances before the period
    (#IB) and after it (#UB) for balance accounts and the period's result (#RES).
    """
    if sie_type not in SIE_TYPES:
        raise ValidationError("--type", _("must be 4i or 4e"))
    if date_to < date_from:
        raise ValidationError("--to", _("must not be before {field}").format(field="--from"))
    year = None
    if sie_type == "4e":
        if date_to.year != date_from.year:
            raise ValidationError("--to", _("a 4E file covers one financial year"))
        year = (date(date_from.year, 1, 1), date(date_from.year, 12, 31))
    with db.read() as s:
        company = company_row(s)
        if not company.name.strip():
            raise DomainError(_("Set the company's name before exporting SIE."))
        chart = load_chart(s)
        header = SieHeader(
            company.name,
            org_number(company.org_number),
            company.currency,
            today(),
            sie_type,
            setting(s, "sie.series"),
            year,
        )
        period = balances(s, date_from, date_to)
        sums = None
        if sie_type == "4e":
            before = balances(s, None, date_from - timedelta(days=1))
            closing = balances(s, None, date_to)
            sums = SieBalances(
                {a: v for a, v in before.items() if _is_balance_account(a) and v},
                {a: v for a, v in closing.items() if _is_balance_account(a) and v},
                {a: v for a, v in period.items() if not _is_balance_account(a) and v},
            )
            used = set(chart.accounts.values()) | set(closing)
        else:
            used = set(period)
    accounts = {a: chart.name(a) or a for a in used}
    return write_sie(out, header, accounts, iter_verifications(db, date_from, date_to), sums)


# ---------------------------------------------------------------- strict reading (tests, checks)


class SieError(DomainError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"SIE line {line}: {message}")
        self.line = line


@dataclass
class SieTrans:
    account: str
    objects: str
    amount: int


@dataclass
class SieVoucher:
    series: str
    number: str
    booked_on: date
    text: str
    registered: date | None
    rows: list[SieTrans] = field(default_factory=list)


@dataclass
class SieFile:
    records: dict[str, list[list[str]]] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    vouchers: list[SieVoucher] = field(default_factory=list)
    opening: dict[str, int] = field(default_factory=dict)
    closing: dict[str, int] = field(default_factory=dict)
    result: dict[str, int] = field(default_factory=dict)

    def one(self, label: str) -> list[str]:
        return self.records[label][0]


_AMOUNT = re.compile(r"^-?\d+(\.\d{1,2})?$")
_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|\{([^}]*)\}|([^\s"{}]+))')
_MANDATORY = ("#FLAGGA", "#PROGRAM", "#FORMAT", "#GEN", "#SIETYP", "#FNAMN")
_ARITY = {  # label: (least, most) fields
    "#FLAGGA": (1, 1),
    "#PROGRAM": (2, 2),
    "#FORMAT": (1, 1),
    "#GEN": (1, 2),
    "#SIETYP": (1, 1),
    "#ORGNR": (1, 3),
    "#FNAMN": (1, 1),
    "#RAR": (3, 3),
    "#VALUTA": (1, 1),
    "#KONTO": (2, 2),
    "#IB": (3, 4),
    "#UB": (3, 4),
    "#RES": (3, 4),
    "#VER": (4, 6),
    "#TRANS": (3, 7),
}


def _tokens(text: str, line: int) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise SieError(line, f"malformed field at column {pos + 1}")
        quoted, objects, bare = match.groups()
        if quoted is not None:
            out.append(re.sub(r"\\(.)", r"\1", quoted))
        elif objects is not None:
            out.append("{" + objects + "}")
        else:
            out.append(bare)
        pos = match.end()
    return out


def _date(text: str, line: int) -> date:
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise SieError(line, f"not a date YYYYMMDD: {text!r}") from None


def _amount(text: str, line: int) -> int:
    if not _AMOUNT.match(text):
        raise SieError(line, f"not an amount with a point and at most two decimals: {text!r}")
    whole, _sep, decimals = text.lstrip("-").partition(".")
    minor = int(whole) * 100 + int(decimals.ljust(2, "0") or 0)
    return -minor if text.startswith("-") else minor


def parse_sie(data: bytes, sie_type: str = "4i") -> SieFile:
    """Read a SIE 4 file strictly: CRLF, CP437, known records, balanced vouchers."""
    if not data.endswith(CRLF):
        raise SieError(0, "the file must end with CRLF")
    lines = data[: -len(CRLF)].split(CRLF)
    sie = SieFile()
    voucher: SieVoucher | None = None
    in_block = False
    for number, raw in enumerate(lines, 1):
        if b"\n" in raw or b"\r" in raw:
            raise SieError(number, "a line ends without CRLF")
        text = raw.decode("cp437")
        stripped = text.strip()
        if stripped == "{":
            if voucher is None or in_block:
                raise SieError(number, "{ without #VER")
            in_block = True
            continue
        if stripped == "}":
            if voucher is None or not in_block:
                raise SieError(number, "} without {")
            if sum(t.amount for t in voucher.rows):
                raise SieError(number, f"voucher {voucher.number or voucher.text} is unbalanced")
            sie.vouchers.append(voucher)
            voucher, in_block = None, False
            continue
        fields = _tokens(text, number)
        if not fields or not fields[0].startswith("#"):
            raise SieError(number, "a record must start with #LABEL")
        label, values = fields[0], fields[1:]
        if number == 1 and label != "#FLAGGA":
            raise SieError(number, "the first record must be #FLAGGA")
        if label not in _ARITY:
            raise SieError(number, f"unknown record {label}")
        least, most = _ARITY[label]
        if not least <= len(values) <= most:
            raise SieError(number, f"{label} takes {least}–{most} fields, not {len(values)}")
        if voucher is not None and not in_block:
            raise SieError(number, "#VER must be followed by {")
        if (label == "#TRANS") != in_block:
            raise SieError(number, "#TRANS belongs inside a #VER block, and only #TRANS does")
        sie.records.setdefault(label, []).append(values)
        _check(sie, label, values, number)
        if label == "#VER":
            registered = _date(values[4], number) if len(values) > 4 else None
            booked = _date(values[2], number)
            voucher = SieVoucher(values[0], values[1], booked, values[3], registered)
        elif label == "#TRANS":
            assert voucher is not None
            if not (values[1].startswith("{") and values[1].endswith("}")):
                raise SieError(number, "#TRANS needs an object list {…}")
            voucher.rows.append(SieTrans(values[0], values[1], _amount(values[2], number)))
    if voucher is not None:
        raise SieError(len(lines), "the last #VER is not closed")
    missing = [m for m in _MANDATORY if m not in sie.records]
    if sie_type == "4e":
        missing += [m for m in ("#RAR", "#KONTO") if m not in sie.records]
    if missing:
        raise SieError(0, "missing mandatory records: " + ", ".join(missing))
    if sie_type == "4e":
        unknown = {t.account for v in sie.vouchers for t in v.rows} - set(sie.accounts)
        if unknown:
            raise SieError(0, "accounts without #KONTO: " + ", ".join(sorted(unknown)))
    return sie


def _check(sie: SieFile, label: str, values: list[str], line: int) -> None:
    if label == "#FLAGGA" and values[0] not in ("0", "1"):
        raise SieError(line, "#FLAGGA is 0 or 1")
    if label == "#FORMAT" and values[0] != "PC8":
        raise SieError(line, "#FORMAT must be PC8")
    if label == "#SIETYP" and values[0] != "4":
        raise SieError(line, "#SIETYP must be 4")
    if label == "#GEN":
        _date(values[0], line)
    if label == "#ORGNR" and not re.match(r"^\d{6}-\d{4}$", values[0]):
        raise SieError(line, "#ORGNR must be nnnnnn-nnnn")
    if label == "#RAR":
        _date(values[1], line)
        _date(values[2], line)
    if label == "#KONTO":
        if not values[0].isdigit():
            raise SieError(line, "account numbers are digits")
        sie.accounts[values[0]] = values[1]
    if label in ("#IB", "#UB", "#RES"):
        target = {"#IB": sie.opening, "#UB": sie.closing, "#RES": sie.result}[label]
        target[values[1]] = _amount(values[2], line)
