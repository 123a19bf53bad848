"""Opening the TUI from the CLI: on the configured database, or on the demo one."""

from __future__ import annotations

from verkstad.cli.common import Context, info
from verkstad.i18n import _

DEMO_ORDERS = 20_000


def open_tui(c: Context) -> None:
    from verkstad.app import VerkstadApp

    VerkstadApp(c.db, c.actor, c.settings, pick_user=not c.settings.user).run()


def open_demo(c: Context) -> None:
    """The demo database in the data dir, seeded once, then the TUI on it."""
    from verkstad.config import data_dir
    from verkstad.demo import seed
    from verkstad.orders.service import count_orders

    if not c.cli_options.get("database_url"):
        c.cli_options["database_url"] = f"sqlite:///{data_dir() / 'demo.db'}"
    if count_orders(c.db) == 0:
        info(_("Creating the demo workshop (once)…"))
        seed(c.db, DEMO_ORDERS)
    open_tui(c)
