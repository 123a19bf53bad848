"""Payment references: Swedish OCR (Bankgirot) and Norwegian KID.

OCR: 2–25 digits, the last a Luhn (mod 10) check digit; with the optional
length digit (total length mod 10) just before it, "12345" becomes "1234574".
KID: 2–25 digits with a MOD10 (Luhn) or MOD11 check digit; "1234" becomes
"12344" (MOD10) or "12343" (MOD11; a remainder giving 10 is written "-").
"""

from __future__ import annotations

MAX_LENGTH = 25


def luhn_digit(payload: str) -> str:
    """The Luhn check digit for ``payload`` (weights 2, 1, 2, … from the right)."""
    total = 0
    for i, char in enumerate(reversed(payload)):
        d = int(char) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _digits(base: int | str) -> str:
    text = str(base)
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"a reference is built from digits, not {text!r}")
    return text


def ocr_reference(base: int | str, length_digit: bool = True) -> str:
    """The OCR number for ``base`` (e.g. the invoice number)."""
    payload = _digits(base)
    if length_digit:
        payload += str((len(payload) + 2) % 10)
    reference = payload + luhn_digit(payload)
    if len(reference) > MAX_LENGTH:
        raise ValueError("an OCR reference has at most 25 digits")
    return reference


def valid_ocr(reference: str, length_digit: bool = True) -> bool:
    if not (reference.isascii() and reference.isdigit()) or not 2 <= len(reference) <= MAX_LENGTH:
        return False
    if length_digit and int(reference[-2]) != len(reference) % 10:
        return False
    return luhn_digit(reference[:-1]) == reference[-1]


def mod11_digit(payload: str) -> str:
    """The MOD11 check digit: weights 2–7 repeating from the right; 11 → 0, 10 → "-"."""
    total = sum(int(c) * (2 + i % 6) for i, c in enumerate(reversed(payload)))
    check = 11 - total % 11
    return "0" if check == 11 else "-" if check == 10 else str(check)


def kid_reference(base: int | str, method: str = "MOD10") -> str:
    payload = _digits(base)
    reference = payload + (luhn_digit(payload) if method == "MOD10" else mod11_digit(payload))
    if len(reference) > MAX_LENGTH:
        raise ValueError("a KID has at most 25 digits")
    return reference


def valid_kid(reference: str, method: str = "MOD10") -> bool:
    digits = reference[:-1]
    if not 2 <= len(reference) <= MAX_LENGTH or not (digits.isascii() and digits.isdigit()):
        return False
    check = luhn_digit(reference[:-1]) if method == "MOD10" else mod11_digit(reference[:-1])
    return check == reference[-1]


def payment_reference(country: str, base: int) -> tuple[str, str]:
    """(label, reference): OCR for Swedish companies, KID (MOD10) for Norwegian ones."""
    return ("KID", kid_reference(base)) if country == "NO" else ("OCR", ocr_reference(base))
