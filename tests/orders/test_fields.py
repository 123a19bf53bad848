"""Normalising phone numbers, registration numbers, e-mail, quantities and discounts."""

import pytest

from verkstad.errors import ValidationError
from verkstad.orders import fields as F


@pytest.mark.parametrize(
    ("text", "country", "e164"),
    [
        ("070-123 45 67", "SE", "+46701234567"),
        ("0701234567", "SE", "+46701234567"),
        ("+46 70 123 45 67", "SE", "+46701234567"),
        ("0046701234567", "SE", "+46701234567"),
        ("+47 412 34 567", "SE", "+4741234567"),
        ("412 34 567", "NO", "+4741234567"),
    ],
)
def test_phone_to_e164(text: str, country: str, e164: str):
    assert F.normalise_phone(text, country) == e164


@pytest.mark.parametrize("text", ["", "12", "070-123", "abc", "08-123 456 78", "+1 999"])
def test_bad_phone_refused(text: str):
    with pytest.raises(ValidationError) as e:
        F.normalise_phone(text)
    assert e.value.field == "Mobile phone"


@pytest.mark.parametrize(
    ("text", "reg"),
    [("abc 123", "ABC123"), ("ABC12D", "ABC12D"), ("ab-12345", "AB12345"), (" xyz999 ", "XYZ999")],
)
def test_registration_normalised(text: str, reg: str):
    assert F.normalise_reg(text) == reg


@pytest.mark.parametrize("text", ["", "A", "ABC 12345 6", "AB#12"])
def test_bad_registration_refused(text: str):
    with pytest.raises(ValidationError, match="Registration number"):
        F.normalise_reg(text)


def test_email():
    assert F.normalise_email(" Anna.B@Example.SE ") == "Anna.B@example.se"
    for bad in ["anna", "anna@", "@x.se", "a@b", "a..b@x.se", "a b@x.se"]:
        with pytest.raises(ValidationError, match="E-mail"):
            F.normalise_email(bad)


def test_quantity_and_discount():
    assert F.parse_quantity("1,5") == 1500
    assert F.parse_quantity("2") == 2000
    assert F.parse_quantity("0,125") == 125
    for bad, rule in [
        ("0", "more than zero"),
        ("-1", "more than zero"),
        ("1,2345", "three decimals"),
        ("x", "a number"),
        ("NaN", "a number"),
        ("Infinity", "a number"),
    ]:
        with pytest.raises(ValidationError, match=rule):
            F.parse_quantity(bad)
    assert F.parse_discount("12,5 %") == 1250
    assert F.parse_discount("") == 0
    with pytest.raises(ValidationError, match="between 0 and 100"):
        F.parse_discount("101")


def test_vat_rates_per_country():
    assert F.parse_vat_rate("25") == 25
    assert F.parse_vat_rate("6 %") == 6
    assert F.parse_vat_rate("15", "NO") == 15
    with pytest.raises(ValidationError, match="VAT rate"):
        F.parse_vat_rate("15", "SE")


def test_text_refuses_control_characters_and_length():
    assert F.clean_text("  Åsa  ", "Name", 10) == "Åsa"
    with pytest.raises(ValidationError, match="control characters"):
        F.clean_text("a\x00b", "Name", 10)
    with pytest.raises(ValidationError, match="at most 3 characters"):
        F.clean_text("abcd", "Name", 3)
