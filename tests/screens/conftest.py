"""Running the real app headless: build it on the test database and wait on conditions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from verkstad.config import Settings
from verkstad.screens import order_list
from verkstad.users import Actor, Role


@pytest.fixture(autouse=True)
def _no_debounce(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(order_list, "DEBOUNCE_SECONDS", 0.001)


@pytest.fixture
def make_app(db):
    from verkstad.app import VerkstadApp

    def build(actor: Actor | None = None, **settings: object) -> VerkstadApp:
        return VerkstadApp(
            db,
            actor or Actor("admin", Role.ADMIN),
            Settings(**settings),
            scheduler=False,  # type: ignore[arg-type]
        )

    return build


async def wait_until(pilot: Pilot, condition: Callable[[], bool], what: str = "condition") -> None:
    """Let the app work (threads, workers, timers) until ``condition`` holds, at most ~10 s."""
    for _ in range(1000):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"timed out waiting for {what}")
