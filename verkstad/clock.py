"""The one clock. Everything time-dependent asks ``now()`` so tests can freeze it.

Times are UTC in the database and shown in the workshop's time zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime

from verkstad.errors import ValidationError
from verkstad.i18n import _, babel_locale

DEFAULT_TIMEZONE = "Europe/Stockholm"
_zone = ZoneInfo(DEFAULT_TIMEZONE)


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def set_timezone(name: str) -> None:
    global _zone
    _zone = ZoneInfo(name)


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe" is a folder
        return False
    return True


def workshop_zone() -> ZoneInfo:
    return _zone


def as_utc(dt: datetime) -> datetime:
    """Aware UTC from an aware time, or from a naive one that is already UTC."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def local(dt: datetime) -> datetime:
    return as_utc(dt).astimezone(_zone)


def local_day_start(day: date) -> datetime:
    """Midnight of ``day`` in the workshop's zone, as UTC (for date filters)."""
    return datetime.combine(day, time(), tzinfo=_zone).astimezone(UTC)


def local_day_end(day: date) -> datetime:
    """Midnight after ``day`` in the workshop's zone, as UTC (exclusive bound)."""
    return local_day_start(day + timedelta(days=1))


def parse_date(text: str | None, field: str) -> date | None:
    """A date typed as YYYY-MM-DD, or None if nothing was typed; ``field`` names it."""
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(field, _("must be a date written YYYY-MM-DD")) from None


def local_days(
    first: date | None, last: date | None, first_field: str, last_field: str
) -> tuple[datetime | None, datetime | None]:
    """The whole days ``first`` through ``last`` in the workshop's zone, as UTC bounds
    [start, end) for a filter; either end may be open (None). A range that ends before it
    starts is refused, naming both fields (it would only show an empty list)."""
    if first is not None and last is not None and last < first:
        raise ValidationError(last_field, _("must not be before {field}").format(field=first_field))
    return (
        None if first is None else local_day_start(first),
        None if last is None else local_day_end(last),
    )


def today() -> date:
    return local(now()).date()


def format_datetime(dt: datetime | None, lang: str | None = None) -> str:
    """Short local date and time ("2024-03-05 14:07" in Swedish); empty for None."""
    if dt is None:
        return ""
    return _babel_datetime(local(dt), format="short", locale=babel_locale(lang))


def format_date(d: date | datetime | None, lang: str | None = None) -> str:
    if d is None:
        return ""
    if isinstance(d, datetime):
        d = local(d).date()
    return _babel_date(d, format="short", locale=babel_locale(lang))
