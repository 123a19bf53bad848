"""The reliability suite's figures: every test records what it tried, and the total is reported.

A test takes the ``figures`` fixture and records, for its area of the suite (the
sections of issue 9: "crash matrix", "provider faults", "concurrency", "callbacks",
"bad input", "exports", "roles", "secrets"), how many cases it tried, faults it
injected, operations it ran and invariant violations it found — before asserting
that the violations are zero. ``python -m reliability`` runs ``pytest -m
reliability`` with VERKSTAD_RELIABILITY_REPORT set and prints the totals.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

AREAS = (
    "crash matrix",
    "provider faults",
    "concurrency",
    "callbacks",
    "bad input",
    "exports",
    "roles",
    "secrets",
)


@dataclass
class Tally:
    cases: int = 0
    faults: int = 0
    operations: int = 0
    violations: int = 0


@dataclass
class Figures:
    areas: dict[str, Tally] = field(default_factory=dict)

    def add(
        self,
        area: str,
        *,
        cases: int = 0,
        faults: int = 0,
        operations: int = 0,
        violations: int = 0,
    ) -> None:
        if area not in AREAS:
            raise ValueError(f"unknown reliability area {area!r}; one of {AREAS}")
        tally = self.areas.setdefault(area, Tally())
        tally.cases += cases
        tally.faults += faults
        tally.operations += operations
        tally.violations += violations


_FIGURES = Figures()


@pytest.fixture
def figures() -> Figures:
    return _FIGURES


@pytest.fixture(scope="session", autouse=True)
def _write_report() -> Iterator[None]:
    yield
    report = os.environ.get("VERKSTAD_RELIABILITY_REPORT")
    if report:
        areas = {name: asdict(tally) for name, tally in _FIGURES.areas.items()}
        Path(report).write_text(json.dumps(areas, indent=2), encoding="utf-8")
