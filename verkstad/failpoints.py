"""Named points where tests simulate the process dying (between commits and provider calls).

Production code calls ``reach("send.after_commit")``; nothing happens unless a
test armed that name, in which case ``SimulatedCrash`` is raised there. A child
process started with ``VERKSTAD_FAILPOINT_KILL=send.after_commit`` (a comma list)
SIGKILLs itself there instead: no ``finally``, no rollback, no flush — the real
thing.

Every point is declared in ``POINTS`` (what has just happened when it is
reached), and the reliability suite's
crash matrix runs every declared point for every provider; a test greps the
sources for ``reach("…")``, so a point cannot be added without being declared and
covered (``arm`` refuses an undeclared name).
"""

from __future__ import annotations

import os
import signal

POINTS: dict[str, str] = {
    "send.after_commit": "the request is committed in CREATING, the provider not yet called",
    "send.after_provider": "the provider created the request; its answer is not yet committed",
    "check.after_provider": "the provider answered a status query; the answer is not committed",
    "cancel.after_commit": "the cancel operation is committed, the provider not yet called",
    "cancel.after_provider": "the provider cancelled (or was found paid); nothing committed",
    "cancel.after_refund_commit": "a request found paid on cancel: its refund is committed",
    "expire.after_provider": "an expired request was ended at the provider; nothing committed",
    "capture.after_commit": "the capture operation is committed, the provider not yet called",
    "capture.after_provider": "the provider captured; the answer is not yet committed",
    "refund.after_commit": "the refund operation is committed, the provider not yet called",
    "refund.after_provider": "the provider refunded; the answer is not yet committed",
    "outbox.after_claim": "a message's lease is committed, the gateway not yet called",
    "outbox.after_send": "the gateway took the message; SENT is not yet committed",
    "credit.after_refund": "a credit's refund is done; the credit note is not yet booked",
    "ledger.before_commit": "a verification is written but its transaction not yet committed",
    "settlement.before_commit": "a settlement report is booked but not yet committed",
}

KILL_ENV = "VERKSTAD_FAILPOINT_KILL"

_armed: set[str] = set()


class SimulatedCrash(BaseException):
    """Raised at an armed failpoint; a BaseException so no handler mistakes it for a refusal."""


def reach(name: str) -> None:
    if name in _armed:
        raise SimulatedCrash(name)
    kill = os.environ.get(KILL_ENV)
    if kill and name in kill.split(","):
        os.kill(os.getpid(), signal.SIGKILL)


def arm(name: str) -> None:
    if name not in POINTS:
        raise KeyError(f"undeclared failpoint {name!r}")
    _armed.add(name)


def disarm_all() -> None:
    _armed.clear()
