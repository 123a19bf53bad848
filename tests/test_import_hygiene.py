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


# What the first screen does not need, loaded after it or when first used (BENCHMARKS.md):
# the sub-commands (Typer), the ORM and its models, the HTTP client, the scheduler, the
# migrations, the dialogs and the payment views.
NOT_AT_START = (
    "typer",
    "sqlalchemy",
    "sqlmodel",
    "pydantic",
    "verkstad.models",
    "httpx",
    "apscheduler",
    "alembic",
    "verkstad.screens.dialogs",
    "verkstad.mpay.views",
)


def test_the_tui_starts_without_what_the_first_screen_does_not_need():
    code = (
        "import sys\n"
        "import verkstad.cli, verkstad.cli.context, verkstad.cli.tui, verkstad.app\n"
        f"print([m for m in {NOT_AT_START!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
