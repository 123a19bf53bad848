"""Opening the TUI from the CLI: on the configured database, or on the demo one."""

from __future__ import annotations

import gc
import socket
import subprocess
import sys
import time

from verkstad.cli.context import Context
from verkstad.db import Database
from verkstad.errors import DomainError
from verkstad.i18n import _

DEMO_ORDERS = 20_000


def open_tui(c: Context) -> None:
    # No collections while the app starts: what it builds lives on, and the collector would
    # only walk it again and again (~50 ms of the cold start, BENCHMARKS.md). The app
    # enables it once the first page is painted; this, if the app never got that far.
    gc.disable()
    try:
        from verkstad.app import VerkstadApp

        VerkstadApp(c.db, c.actor, c.settings, pick_user=not c.settings.user).run()
    finally:
        # The app has quit and what it built ends with the process: frozen, the
        # interpreter's collections on the way out skip it (about 80 ms per quit here,
        # BENCHMARKS.md).
        gc.freeze()
        gc.enable()


def open_demo(c: Context) -> None:
    """The demo database in the data dir (seeded once), the sandbox if none is running,
    then the TUI; quitting stops the sandbox if the demo started it."""
    from verkstad.config import data_dir
    from verkstad.demo import seed
    from verkstad.orders.service import count_orders

    if not c.cli_options.get("database_url"):
        c.cli_options["database_url"] = f"sqlite:///{data_dir() / 'demo.db'}"
    # Seed before the context opens the database: --user may name a demo user.
    db = Database(c.cli_options["database_url"])
    try:
        db.upgrade()
        if count_orders(db) == 0:
            print(_("Creating the demo workshop (once)…"))
            seed(db, DEMO_ORDERS)
    finally:
        db.dispose()
    try:
        sandbox = start_sandbox(c.settings.sandbox_url)
    except DomainError as e:  # the counter still works; only payments will say why not
        print(str(e), file=sys.stderr)
        sandbox = None
    try:
        open_tui(c)
    finally:
        if sandbox is not None:
            sandbox.terminate()
            sandbox.wait(timeout=10)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_sandbox(url: str) -> subprocess.Popen[bytes] | None:
    """Start the provider sandbox in the background unless one answers at ``url``."""
    from urllib.parse import urlsplit

    from verkstad.config import data_dir

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if _listening(host, port):
        return None
    data_dir().mkdir(parents=True, exist_ok=True)
    log = (data_dir() / "sandbox.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "verkstad", "sandbox", "serve", "--host", host, "--port", str(port)],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while not _listening(host, port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise DomainError(
                _("The payment sandbox did not start; see {log}.").format(
                    log=data_dir() / "sandbox.log"
                )
            )
        time.sleep(0.1)
    return process
