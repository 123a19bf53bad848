"""Exactly one scheduler acts per database, also across processes."""

import subprocess
import sys

import pytest

from verkstad.db import Database
from verkstad.mpay.scheduler import Leadership

HOLD = """
import sys
from verkstad.db import Database
from verkstad.mpay.scheduler import Leadership
leader = Leadership(Database(sys.argv[1]))
print("leader" if leader.acquire() else "follower", flush=True)
sys.stdin.readline()
"""


def _other_process(url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "leader"
    return proc


def _check(url: str) -> None:
    other = _other_process(url)  # another terminal's scheduler took the lead
    mine = Leadership(Database(url))
    assert not mine.acquire()
    assert other.stdin is not None
    other.stdin.write("\n")
    other.stdin.flush()
    other.wait(timeout=30)  # it stops (or dies): the operating system releases its lock
    assert mine.acquire()
    assert mine.acquire()  # the leader stays the leader
    mine.release()


def test_one_scheduler_per_sqlite_file(db):
    _check(db.url)


@pytest.mark.postgres
def test_one_scheduler_across_processes_on_postgres(pg_db):
    _check(pg_db.url)


async def test_scheduler_persists_its_jobs_in_the_migrated_table(db):
    from sqlalchemy import text

    from verkstad.config import Settings
    from verkstad.mpay.scheduler import JOBS, build_scheduler, stop

    scheduler = build_scheduler(db, Settings(), asyncio=True)
    scheduler.start(paused=True)
    try:
        with db.engine.connect() as conn:
            ids = set(conn.execute(text("SELECT id FROM apscheduler_jobs")).scalars())
        assert ids == {func.__name__ for func, _every in JOBS}
    finally:
        scheduler.shutdown(wait=False)
        stop(db)
