"""``python -m reliability``: run the reliability suite and print its figures as one table.

Runs ``pytest -m reliability`` (extra arguments are passed on), collects what each
test recorded through the ``figures`` fixture (tests/reliability/conftest.py) and
prints, per area of the suite: cases tried, faults injected, operations and
invariant violations found. Exits non-zero if a test failed or any violation
was found.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ("area", "cases tried", "faults injected", "operations", "violations found")


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "figures.json"
        env = {**os.environ, "VERKSTAD_RELIABILITY_REPORT": str(report)}
        command = [sys.executable, "-m", "pytest", "-m", "reliability", "-q", *argv]
        result = subprocess.run(command, cwd=ROOT, env=env, check=False)
        areas = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    print(table(areas))
    violations = sum(tally["violations"] for tally in areas.values())
    return 1 if result.returncode or violations else 0


def table(areas: dict[str, dict[str, int]]) -> str:
    from tests.reliability.conftest import AREAS

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    totals = [0, 0, 0, 0]
    for name in AREAS:
        tally = areas.get(name)
        if tally is None:
            lines.append(f"| {name} | not run | | | |")
            continue
        values = [tally["cases"], tally["faults"], tally["operations"], tally["violations"]]
        totals = [a + b for a, b in zip(totals, values, strict=True)]
        lines.append(f"| {name} | " + " | ".join(f"{v:,}" for v in values) + " |")
    lines.append("| **total** | " + " | ".join(f"**{v:,}**" for v in totals) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
