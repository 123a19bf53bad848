"""Money parsing as users type it, formatting through Babel, and the round trip."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verkstad.errors import ValidationError
from verkstad.money import MAX_MINOR, Money, format_money, parse_minor, parse_money


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("1 234,50", 123450),
        ("1234.50", 123450),
        ("1234,5", 123450),
        ("1 234 kr", 123400),
        ("99,9", 9990),
        ("250:-", 25000),
        ("250,-", 25000),
        ("1.234,50", 123450),
        ("1\u00a0234,50\u00a0kr", 123450),
        ("SEK 10", 1000),
        ("0,01", 1),
        ("  7  ", 700),
        ("1 000 000", 100_000_000),
    ],
)
def test_parses_what_users_type(text: str, minor: int):
    assert parse_money(text, lang="sv") == Money(minor, "SEK")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "enter an amount"),
        ("abc", "only digits"),
        ("12a", "only digits"),
        ("1,234", "at most two decimals"),
        ("1,999", "at most two decimals"),
        ("12 34", "digit groups"),
        ("1,2,3", "digit groups"),
        ("-5", "must not be negative"),
        ("99999999999999999999", "too large"),
        ("10 000 001", "too large"),
        ("1.2.3,4", "malformed"),
        ("12,", "malformed"),
        ("kr", "enter an amount"),
    ],
)
def test_refuses_garbage_with_field_and_rule(text: str, rule: str):
    with pytest.raises(ValidationError) as e:
        parse_money(text, field="Belopp", lang="sv")
    assert e.value.field == "Belopp"
    assert rule in str(e.value)


def test_negative_when_allowed_and_zero_when_not():
    assert parse_minor("-12,50", allow_negative=True) == -1250
    with pytest.raises(ValidationError, match="more than zero"):
        parse_minor("0", allow_zero=False)


def test_english_grouping_comma():
    assert parse_minor("1,234", lang="en") == 123400
    assert parse_minor("1,234.50", lang="en") == 123450


def test_format_uses_babel_with_non_breaking_spaces():
    assert format_money(Money(123450), "sv") == "1\u00a0234,50\u00a0kr"
    assert Money(123450, "NOK").format("nb") == "1\u00a0234,50\u00a0kr"
    assert Money(-50).format("sv") == "-0,50\u00a0kr"


def test_money_refuses_floats_and_mixed_currencies():
    with pytest.raises(TypeError):
        Money(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Money(1, "SEK") + Money(1, "NOK")
    assert Money(150) + Money(50) == Money(200)
    assert Money(123450).plain() == "1234.50"


@given(
    st.integers(min_value=-MAX_MINOR, max_value=MAX_MINOR),
    st.sampled_from(["sv", "nb", "en", "fr"]),
    st.sampled_from(["SEK", "NOK"]),
)
def test_parse_of_format_is_identity(minor: int, lang: str, currency: str):
    text = Money(minor, currency).format(lang)
    assert parse_money(text, currency, lang=lang, allow_negative=True) == Money(minor, currency)


@given(st.text(max_size=30))
def test_any_text_parses_or_is_refused_cleanly(text: str):
    try:
        minor = parse_minor(text, allow_negative=True)
    except ValidationError as e:
        assert e.field == "Amount"
    else:
        assert abs(minor) <= MAX_MINOR
