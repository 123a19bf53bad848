"""The sandbox's virtual clock: the wall clock plus a persisted offset, or frozen.

Every rule of the emulated providers (expiry, capture and refund windows,
webhook delays, rate-limit windows, settlement dates) reads this clock, so
`advance` lets a test or a trainer skip ten minutes or half a year at once.
Webhook signatures use the real time instead: they prove freshness to a
receiver that lives on the real clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from verkstad.sandbox.store import Store

_OFFSET = "clock.offset_seconds"
_FROZEN = "clock.frozen_at"


class VirtualClock:
    def __init__(self, store: Store) -> None:
        self._store = store

    def now(self) -> datetime:
        frozen = self._store.get(_FROZEN)
        if frozen:
            return datetime.fromisoformat(frozen)
        return datetime.now(UTC) + timedelta(seconds=self._store.get(_OFFSET, 0.0))

    def advance(self, delta: timedelta) -> datetime:
        frozen = self._store.get(_FROZEN)
        if frozen:
            self._store.put(_FROZEN, (datetime.fromisoformat(frozen) + delta).isoformat())
        else:
            self._store.put(_OFFSET, self._store.get(_OFFSET, 0.0) + delta.total_seconds())
        return self.now()

    def freeze(self, frozen: bool) -> datetime:
        """Stop (or restart) virtual time where it is now."""
        current = self.now()
        if frozen:
            self._store.put(_FROZEN, current.isoformat())
        else:
            self._store.put(_FROZEN, None)
            self._store.put(_OFFSET, (current - datetime.now(UTC)).total_seconds())
        return current

    def state(self) -> dict[str, object]:
        return {
            "now": self.now().isoformat(),
            "offset_seconds": self._store.get(_OFFSET, 0.0),
            "frozen": bool(self._store.get(_FROZEN)),
        }
