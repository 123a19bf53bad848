"""What verkstad does on its own: polling, expiry, the capture window, the outbox,
payment reminders and the payment reports.

APScheduler 3 runs module-level job functions (its database job store pickles
them) that each call a service. With several terminals on one database exactly
one scheduler acts: the leader holds a lock the operating system releases if
the process dies — a PostgreSQL advisory lock on its own connection, or an
exclusive file lock next to the SQLite file — and every job first checks it.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Float, LargeBinary, Table, Unicode, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from verkstad.clock import now
from verkstad.config import Settings
from verkstad.db import Database
from verkstad.errors import DomainError
from verkstad.mpay.gateway import Providers

log = logging.getLogger(__name__)

# APScheduler's job store, declared here so the migrations create it (APScheduler only
# checks that it exists) and the schema check covers it.
JOBS_TABLE = Table(
    "apscheduler_jobs",
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
ADVISORY_KEY = 7_461_133  # "verkstad scheduler" for pg_try_advisory_lock


class Leadership:
    """Whether this process is the one scheduler that acts on the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Connection | None = None
        self._file: Any = None

    def acquire(self) -> bool:
        if self._conn is not None or self._file is not None:
            return True
        if self.db.is_sqlite:
            return self._file_lock()
        conn = self.db.engine.connect()
        got = bool(
            conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        )
        conn.commit()
        if got:
            self._conn = conn  # the lock lives as long as this connection
        else:
            conn.close()
        return got

    def _file_lock(self) -> bool:
        database = make_url(self.db.url).database or ":memory:"
        if database == ":memory:":
            return True
        handle = Path(database + ".scheduler.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # closing the session ends the advisory lock
            self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None


# One runtime per process and database: the job functions find it by URL (they are pickled
# with only the URL as argument, so the job store can survive a restart).
_runtimes: dict[str, Runtime] = {}


class Runtime:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.providers = Providers(settings)
        self.leadership = Leadership(db)

    def leader(self) -> bool:
        return self.leadership.acquire()

    def close(self) -> None:
        self.leadership.release()
        self.providers.close()


def _run(url: str, job: Callable[[Runtime], object]) -> None:
    runtime = _runtimes.get(url)
    if runtime is None or not runtime.leader():
        return
    try:
        job(runtime)
    except DomainError as e:  # a provider or the database is away: the next run tries again
        log.warning("scheduled job %s: %s", getattr(job, "__name__", job), e)


def poll_payments(url: str) -> None:
    from verkstad.mpay.recovery import poll

    _run(url, lambda r: poll(r.db, r.providers))


def expire_requests(url: str) -> None:
    from verkstad.mpay.recovery import expire_due

    _run(url, lambda r: expire_due(r.db, r.providers))


def capture_reserved(url: str) -> None:
    from verkstad.mpay.recovery import capture_due

    _run(
        url,
        lambda r: capture_due(
            r.db, r.providers, timedelta(minutes=r.settings.capture_window_minutes)
        ),
    )


def deliver_messages(url: str) -> None:
    from verkstad.mpay.notify import deliver_pending
    from verkstad.mpay.senders import senders

    _run(url, lambda r: deliver_pending(r.db, senders(r.settings)))


def reconcile_payments(url: str) -> None:
    from verkstad.mpay.recovery import reconcile

    _run(url, lambda r: reconcile(r.db, r.providers))


def send_reminders(url: str) -> None:
    from verkstad.invoices.reminders import send_due_reminders

    _run(url, lambda r: send_due_reminders(r.db, r.providers, r.settings.reminders))


def write_payment_reports(url: str) -> None:
    from verkstad.ledger.reports import write_due_reports

    _run(url, lambda r: write_due_reports(r.db, r.settings.reports, r.settings.reports_folder()))


JOBS: tuple[tuple[Callable[[str], None], str], ...] = (
    (poll_payments, "poll"),
    (expire_requests, "minute"),
    (capture_reserved, "minute"),
    (deliver_messages, "poll"),
    (reconcile_payments, "hour"),
    (send_reminders, "hour"),
    (write_payment_reports, "hour"),
)


def build_scheduler(db: Database, settings: Settings, asyncio: bool = False) -> Any:
    """A configured scheduler (not started). ``asyncio`` for inside the TUI's event loop."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.util import undefined

    _runtimes[db.url] = Runtime(db, settings)
    store = SQLAlchemyJobStore(engine=db.engine, tablename=JOBS_TABLE.name)
    kind = AsyncIOScheduler if asyncio else BlockingScheduler
    scheduler = kind(
        jobstores={"default": store}, job_defaults={"coalesce": True, "max_instances": 1}
    )
    seconds = {"poll": settings.poll_interval_seconds, "minute": 60, "hour": 3600}
    for func, every in JOBS:
        scheduler.add_job(
            func,
            "interval",
            seconds=seconds[every],
            args=[db.url],
            id=func.__name__,
            replace_existing=True,
            misfire_grace_time=seconds[every],
            # reconcile at start too: finish what a crash left open before anything else
            next_run_time=now() if func is reconcile_payments else undefined,
        )
    return scheduler


def stop(db: Database) -> None:
    runtime = _runtimes.pop(db.url, None)
    if runtime is not None:
        runtime.close()


def run_headless(db: Database, settings: Settings) -> None:
    """``verkstad scheduler run``: the back-office machine's scheduler, until Ctrl+C."""
    scheduler = build_scheduler(db, settings)
    log.info("scheduler started (pid %s)", os.getpid())
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        stop(db)
