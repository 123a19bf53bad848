"""How long staff have to end a reserved payment before verkstad captures it (the
capture_window_minutes setting, applied at start)."""

from __future__ import annotations

from datetime import timedelta

_capture_window = timedelta(minutes=15)


def set_capture_window(minutes: int) -> None:
    global _capture_window
    _capture_window = timedelta(minutes=minutes)


def capture_window() -> timedelta:
    return _capture_window
