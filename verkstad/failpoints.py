"""Named points where tests simulate the process dying (between commits and provider calls).

Production code calls ``reach("send.after_commit")``; nothing happens unless a
test armed that name, in which case ``SimulatedCrash`` is raised there.
"""

from __future__ import annotations

_armed: set[str] = set()


class SimulatedCrash(BaseException):
    """Raised at an armed failpoint; a BaseException so no handler mistakes it for a refusal."""


def reach(name: str) -> None:
    if name in _armed:
        raise SimulatedCrash(name)


def arm(name: str) -> None:
    _armed.add(name)


def disarm_all() -> None:
    _armed.clear()
