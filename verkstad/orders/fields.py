"""Parsing and normalising what staff type: phone, e-mail, registration, quantities.

Every function returns the normalised value or raises ValidationError naming
the field and the rule.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

import phonenumbers

from verkstad.errors import ValidationError
from verkstad.i18n import LANGUAGES, _

VAT_RATES = {"SE": (25, 12, 6, 0), "NO": (25, 15, 12, 0)}
LINE_KINDS = ("part", "labour", "fee", "text")
# RFC 5322 dot-atom before the @ (no dot first, last or twice: mail servers refuse those),
# host name labels after it.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL = re.compile(
    rf"^{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\Z"
)
_REG = re.compile(r"^[A-ZÅÄÖÆØ0-9]{2,8}$")


def clean_text(value: str, field: str, max_length: int, *, required: bool = False) -> str:
    """Trim, NFC-normalise and refuse control characters and over-long text."""
    text = unicodedata.normalize("NFC", value).strip()
    if required and not text:
        raise ValidationError(field, _("is required"))
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise ValidationError(field, _("must not contain control characters"))
    if len(text) > max_length:
        raise ValidationError(
            field, _("at most {n} characters ({m} given)").format(n=max_length, m=len(text))
        )
    return text


def normalise_phone(text: str, country: str = "SE", field: str | None = None) -> str:
    """A mobile number in E.164 ("070-123 45 67" → "+46701234567")."""
    name = field or _("Mobile phone")
    raw = text.strip()
    if not raw:
        raise ValidationError(name, _("is required"))
    if len(raw) > 30:
        raise ValidationError(name, _("is not a valid phone number"))
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        raise ValidationError(name, _("is not a valid phone number")) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(name, _("is not a valid phone number"))
    kind = phonenumbers.number_type(number)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ValidationError(name, _("must be a mobile number (it is to receive SMS)"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str | None) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalise_email(text: str, field: str | None = None) -> str:
    name = field or _("E-mail")
    value = text.strip()
    if not value:
        raise ValidationError(name, _("is required"))
    if len(value) > 200 or not _EMAIL.match(value) or ".." in value:
        raise ValidationError(name, _("is not a valid e-mail address"))
    local, _sep, domain = value.rpartition("@")
    if len(local) > 64:
        raise ValidationError(name, _("is not a valid e-mail address"))
    return f"{local}@{domain.lower()}"


def normalise_reg(text: str, field: str | None = None) -> str:
    """Registration number without spaces or dashes, upper case ("abc 123" → "ABC123")."""
    name = field or _("Registration number")
    value = re.sub(r"[\s\-]", "", unicodedata.normalize("NFC", text)).upper()
    if not value:
        raise ValidationError(name, _("is required"))
    if not _REG.match(value):
        raise ValidationError(name, _("2–8 letters and digits"))
    return value


def parse_quantity(text: str, field: str | None = None) -> int:
    """A positive quantity with at most three decimals, in thousandths ("1,5" → 1500)."""
    name = field or _("Quantity")
    value = text.strip().replace(",", ".").replace(" ", "").replace("\u00a0", "")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValidationError(name, _("must be a number, e.g. 1,5")) from None
    if not number.is_finite():
        raise ValidationError(name, _("must be a number, e.g. 1,5"))
    if number <= 0:
        raise ValidationError(name, _("must be more than zero"))
    milli = number * 1000
    if milli != milli.to_integral_value():
        raise ValidationError(name, _("at most three decimals are allowed"))
    if number > 100_000:
        raise ValidationError(name, _("is too large"))
    return int(milli)


def parse_discount(text: str, field: str | None = None) -> int:
    """A discount in percent, 0–100 with at most two decimals, in basis points."""
    name = field or _("Discount %")
    value = text.strip().rstrip("%").strip().replace(",", ".")
    if not value:
        return 0
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValidationError(name, _("must be a percentage between 0 and 100")) from None
    if not number.is_finite() or not 0 <= number <= 100:
        raise ValidationError(name, _("must be a percentage between 0 and 100"))
    bp = number * 100
    if bp != bp.to_integral_value():
        raise ValidationError(name, _("at most two decimals are allowed"))
    return int(bp)


def parse_vat_rate(value: str | int, country: str = "SE") -> int:
    allowed = VAT_RATES.get(country, VAT_RATES["SE"])
    text = str(value).strip().rstrip("%").strip()
    if not (text.isascii() and text.isdigit()) or int(text) not in allowed:
        raise ValidationError(
            _("VAT rate"),
            _("must be one of: {choices}").format(choices=", ".join(f"{r} %" for r in allowed)),
        )
    return int(text)


def parse_kind(value: str) -> str:
    kind = value.strip().lower()
    if kind not in LINE_KINDS:
        raise ValidationError(
            _("Kind"), _("must be one of: {choices}").format(choices=", ".join(LINE_KINDS))
        )
    return kind


def parse_language(value: str) -> str:
    lang = value.strip().lower()
    if lang not in LANGUAGES:
        raise ValidationError(
            _("Language"), _("must be one of: {choices}").format(choices=", ".join(LANGUAGES))
        )
    return lang
