"""Formatting shared by the CLI and the TUI (numbers through Babel in the user's locale)."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal

from verkstad.i18n import babel_locale


def format_quantity(milli: int, lang: str | None = None) -> str:
    """A quantity in thousandths as people write it ("1,5", "2")."""
    return format_decimal(Decimal(milli).scaleb(-3).normalize(), locale=babel_locale(lang))


def format_percent_bp(bp: int) -> str:
    """Basis points as a plain percentage number ("12,5"), empty for zero."""
    return format_decimal(Decimal(bp).scaleb(-2).normalize(), locale=babel_locale()) if bp else ""
