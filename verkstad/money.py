"""Money: integer minor units (öre/øre) plus an ISO currency. Never a float.

Parsing accepts what a Nordic user types ("1 234,50", "1234.50", "1 234 kr",
"99,9", "250:-"); formatting goes through Babel ("1 234,50 kr", with
non-breaking spaces as Babel writes them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from babel.numbers import (
    format_currency,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)

from verkstad.errors import ValidationError
from verkstad.i18n import _, babel_locale

CURRENCIES = ("SEK", "NOK", "EUR", "DKK")
# Ten million kronor: far above any workshop order, far below overflow.
MAX_MINOR = 10_000_000_00

_SPACES = "\u0020\u00a0\u202f\u2009"
_MINUS = "-\u2212"


@cache
def _currency_tokens() -> re.Pattern[str]:
    """Currency words users type or Babel writes ("kr", "Nkr", "SEK", "€"), before or after."""
    symbols = {"kr", "kr.", ":-", ",-"} | {c.lower() for c in CURRENCIES}
    for lang in ("sv", "nb", "en", "fr"):
        symbols |= {get_currency_symbol(c, babel_locale(lang)).lower() for c in CURRENCIES}
    words = "|".join(re.escape(w) for w in sorted(symbols, key=len, reverse=True))
    return re.compile(rf"^({words})|({words})$", re.I)


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str = "SEK"

    def __post_init__(self) -> None:
        if type(self.minor) is not int:
            raise TypeError(f"Money.minor must be int, not {type(self.minor).__name__}")
        if self.currency not in CURRENCIES:
            raise ValueError(f"unknown currency {self.currency!r}")

    @classmethod
    def zero(cls, currency: str = "SEK") -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise ValueError(f"cannot combine {self!r} with {other!r}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    @property
    def decimal(self) -> Decimal:
        """The amount in major units, exact (for wire formats that want "100.00")."""
        return Decimal(self.minor).scaleb(-2)

    def format(self, lang: str | None = None) -> str:
        return format_money(self, lang)

    def plain(self) -> str:
        """Major units with a point and two decimals, as SIE and most APIs want."""
        return f"{self.decimal:.2f}"


def format_money(money: Money, lang: str | None = None) -> str:
    return format_currency(money.decimal, money.currency, locale=babel_locale(lang))


def format_amount(minor: int, lang: str | None = None) -> str:
    """The number alone, grouped for the locale, without currency ("1 234,50")."""
    from babel.numbers import format_decimal

    return format_decimal(Decimal(minor).scaleb(-2), format="#,##0.00", locale=babel_locale(lang))


def parse_money(
    text: str,
    currency: str = "SEK",
    *,
    field: str | None = None,
    lang: str | None = None,
    allow_negative: bool = False,
    allow_zero: bool = True,
    max_minor: int = MAX_MINOR,
) -> Money:
    """Parse what the user typed into an amount, or raise ValidationError naming ``field``."""
    return Money(
        parse_minor(
            text,
            field=field,
            lang=lang,
            allow_negative=allow_negative,
            allow_zero=allow_zero,
            max_minor=max_minor,
        ),
        currency,
    )


def parse_minor(
    text: str,
    *,
    field: str | None = None,
    lang: str | None = None,
    allow_negative: bool = False,
    allow_zero: bool = True,
    max_minor: int = MAX_MINOR,
) -> int:
    name = field or _("Amount")

    def fail(rule: str) -> ValidationError:
        return ValidationError(name, rule)

    s = text.strip(_SPACES + "\t")
    if not s:
        raise fail(_("enter an amount"))
    negative = False
    if s[0] in _MINUS:
        negative, s = True, s[1:].strip(_SPACES)
    s = _currency_tokens().sub("", s).strip(_SPACES)
    if s and s[0] in _MINUS and not negative:
        negative, s = True, s[1:].strip(_SPACES)
    if not s:
        raise fail(_("enter an amount"))
    if re.search(r"[^0-9.,'" + _SPACES + "]", s):
        raise fail(_("only digits and one decimal separator are allowed"))

    integer, decimals = _split_decimals(s, babel_locale(lang), fail)
    groups = re.split(f"[{_SPACES}']+", integer)
    if (
        not groups[0]
        or any(len(g) != 3 for g in groups[1:])
        or (len(groups[0]) > 3 and len(groups) > 1)
    ):
        raise fail(_("the digit groups are malformed"))
    digits = "".join(groups)
    if not digits.isdigit() or (decimals and not decimals.isdigit()):
        raise fail(_("the number is malformed"))
    if len(decimals) > 2:
        raise fail(_("at most two decimals are allowed"))
    if len(digits) > 15:
        raise fail(_("the amount is too large"))
    minor = int(digits) * 100 + int(decimals.ljust(2, "0") or "0")
    if negative:
        minor = -minor
    if minor < 0 and not allow_negative:
        raise fail(_("must not be negative"))
    if minor == 0 and not allow_zero:
        raise fail(_("must be more than zero"))
    if abs(minor) > max_minor:
        raise fail(_("the amount is too large"))
    return minor


def _split_decimals(s: str, locale: str, fail) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Split "1.234,50" into ("1 234", "50"): the last of ',' and '.' is the decimal sign.

    A separator that appears several times, or that is the locale's grouping
    sign followed by exactly three digits ("1,234" in English), groups thousands.
    """
    seps = [c for c in s if c in ",."]
    if not seps:
        return s, ""
    last = seps[-1]
    other = "," if last == "." else "."
    if seps.count(last) > 1:
        if other in s:
            raise fail(_("the number is malformed"))
        return s.replace(last, " "), ""
    head, _sep, tail = s.rpartition(last)
    group_sign = get_group_symbol(locale)
    if other not in head and last == group_sign and last != get_decimal_symbol(locale):
        if len(tail) == 3 and tail.isdigit():
            return s.replace(last, " "), ""
    if not tail:
        raise fail(_("the number is malformed"))
    return head.replace(other, " "), tail
