"""Engine, sessions and migrations.

SQLite (the default: one file in the user's data dir) runs in WAL mode with
foreign keys on and a busy timeout; PostgreSQL is used when the URL says so.
The schema comes only from the Alembic migrations shipped in
``verkstad/migrations``; they are applied at start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from verkstad.clock import as_utc
from verkstad.errors import DomainError
from verkstad.i18n import _

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


def normalise_url(url: str) -> str:
    """Let users write postgresql://… and still get the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _unicode_lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # SQLite's own lower() folds ASCII only ("Öberg" would not match "öberg").
    dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class Database:
    """One database: its engine and the unit-of-work sessions services open on it."""

    def __init__(self, url: str) -> None:
        # Every table is registered before the first query configures the ORM mappers;
        # otherwise a module imported lazily in a worker thread can race that step.
        import verkstad.models  # noqa: F401

        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # Writers take the lock at BEGIN so read-modify-write units of work
            # queue on the busy timeout instead of failing at their first write;
            # readers (list queries) use a second engine with a deferred BEGIN.
            self.engine: Engine = _sqlite_engine(self.url, "BEGIN IMMEDIATE")
            self.read_engine: Engine = _sqlite_engine(self.url, "BEGIN")
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=5)
            self.read_engine = self.engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except OperationalError as e:
                session.rollback()
                raise DatabaseUnavailable(str(e.orig)) from e
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session that never blocks writers (and is never committed).

        Closing it ends the transaction but leaves what it loaded readable (a
        rollback would expire those objects).
        """
        with Session(self.read_engine) as session:
            try:
                yield session
            except OperationalError as e:
                raise DatabaseUnavailable(str(e.orig)) from e

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A plain connection for hot read paths (the order list), lighter than a Session."""
        with self.read_engine.connect() as conn:
            try:
                yield conn
            except OperationalError as e:
                raise DatabaseUnavailable(str(e.orig)) from e
            finally:
                conn.rollback()

    def upgrade(self) -> None:
        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()


def _sqlite_engine(url: str, begin: str) -> Engine:
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_conn, _record)
        dbapi_conn.isolation_level = None  # let the "begin" hook below own transactions

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


class DatabaseUnavailable(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(_("The database cannot be reached: {detail}").format(detail=detail))


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration: revision ids are the files' four-digit prefixes (0001, 0002, …)."""
    return max(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _at_head(engine: Engine) -> bool:
    """Whether the schema is current, without importing Alembic (it costs start-up time)."""
    try:
        with engine.connect() as conn:
            current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except (OperationalError, ProgrammingError):  # no alembic_version table yet
        return False
    return current == head_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    if revision == "head" and _at_head(engine):
        return
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
