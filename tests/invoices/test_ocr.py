"""OCR (Luhn with length digit) and KID (MOD10/MOD11), checked against known references."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verkstad.invoices.ocr import (
    kid_reference,
    ocr_reference,
    payment_reference,
    valid_kid,
    valid_ocr,
)


def test_known_references():
    assert ocr_reference(12345) == "1234574"
    assert ocr_reference(12345, length_digit=False) == "123455"
    assert kid_reference(1234) == "12344"
    assert kid_reference(1234, "MOD11") == "12343"
    assert payment_reference("SE", 12345) == ("OCR", "1234574")
    assert payment_reference("NO", 1234) == ("KID", "12344")


@given(st.integers(min_value=0, max_value=10**20))
def test_every_generated_reference_validates_and_a_changed_digit_does_not(base):
    ocr = ocr_reference(base)
    assert valid_ocr(ocr) and int(ocr[-2]) == len(ocr) % 10
    kid = kid_reference(base)
    assert valid_kid(kid)
    wrong = ocr[:-1] + str((int(ocr[-1]) + 1) % 10)
    assert not valid_ocr(wrong)


@pytest.mark.parametrize("bad", ["", "1", "12a4", "1" * 26, "1234575"])
def test_invalid_ocr(bad):
    assert not valid_ocr(bad)
