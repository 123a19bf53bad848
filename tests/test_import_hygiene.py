"""The core imports without Textual (DESIGN.md): checked in a fresh interpreter."""

import subprocess
import sys

CORE = [
    "verkstad.orders.service",
    "verkstad.orders.queries",
    "verkstad.mpay",
    "verkstad.ledger",
    "verkstad.invoices",
    "verkstad.cli",
]


def test_core_does_not_import_textual():
    code = (
        "import sys\n" + "".join(f"import {m}\n" for m in CORE) + "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_tui_starts_without_typer():
    """Plain ``verkstad`` opens the counter without building the sub-commands (Typer costs
    tens of milliseconds at every start): what its path imports leaves Typer out."""
    code = (
        "import sys\n"
        "import verkstad.cli, verkstad.cli.context, verkstad.cli.tui, verkstad.app\n"
        "print('typer' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
