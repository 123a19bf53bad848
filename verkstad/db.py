"""Engine, sessions and migrations.

SQLite (the default: one file in the user's data dir) runs in WAL mode with
foreign keys on and a busy timeout; PostgreSQL is used when the URL says so.
The schema comes only from the Alembic migrations shipped in
``verkstad/migrations``; they are applied at start.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from verkstad.clock import as_utc
from verkstad.errors import DomainError, ValidationError
from verkstad.i18n import _

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlmodel import Session

    from verkstad.dbtypes import UTCDateTime as UTCDateTime

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000
STREAM_CACHE_KIB = 16_384  # SQLite's page cache while streaming an export (default 2 MiB)
T = TypeVar("T")


def __getattr__(name: str) -> Any:
    """``UTCDateTime`` lives in verkstad.dbtypes (it needs SQLAlchemy, which the TUI's first
    paint does without); the models and migrations still find it here."""
    if name == "UTCDateTime":
        from verkstad.dbtypes import UTCDateTime

        return UTCDateTime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def stored_time(moment: datetime, sqlite: bool) -> Any:
    """A time as the database stores it, for binding on a DB-API connection
    (UTCDateTime's form: naive UTC; on SQLite in SQLAlchemy's text form)."""
    naive = as_utc(moment).replace(tzinfo=None)
    return naive.isoformat(" ", "microseconds") if sqlite else naive


_URL = re.compile(r"(?P<backend>[A-Za-z0-9]+)(?:\+[A-Za-z0-9_]+)?://(?P<rest>.*)", re.DOTALL)


def _parsed_url(url: str) -> tuple[str, str | None]:
    """(backend, SQLite file or None for in-memory) of a database URL, or a refusal naming
    it (a typo in --db or database_url): SQLite or PostgreSQL, the two verkstad runs on.
    A PostgreSQL URL is checked by SQLAlchemy itself."""
    found = _URL.fullmatch(url)
    backend = found["backend"] if found else ""
    if backend == "postgresql":
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(url)
        except (ArgumentError, ValueError):
            backend = ""
    if backend not in ("sqlite", "postgresql"):
        raise ValidationError(
            _("Database URL"),
            _("must be sqlite:///path/to/file.db or postgresql://user@host/database"),
        )
    if backend != "sqlite":
        return backend, None
    assert found is not None
    database = found["rest"].split("?", 1)[0][1:]  # sqlite:///relative, sqlite:////absolute
    return backend, database if database not in ("", ":memory:") else None


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
        self.url = normalise_url(url)
        backend, self.file = _parsed_url(self.url)
        self.is_sqlite = backend == "sqlite"
        if self.file is not None:
            folder = Path(self.file).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise DomainError(
                    _("Cannot write {path}: {error}").format(path=folder, error=e.strerror)
                ) from None
        # SQLAlchemy is loaded when a session or the pool is first needed: the counter's
        # first screen reads through the one kept DB-API connection (hot_read) without it.
        self._engine: Engine | None = None
        self._read_engine: Engine | None = None
        self._engines_lock = threading.Lock()
        # The one DB-API connection kept for hot reads (see hot_read); an in-memory SQLite
        # database is one per connection, so it always reads through the pool.
        self._keep_hot = not self.is_sqlite or self.file is not None
        self._hot: Any = None
        self._hot_lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The engine units of work write through (made on first use)."""
        if self._engine is None:
            self._make_engines()
        assert self._engine is not None
        return self._engine

    @property
    def read_engine(self) -> Engine:
        """The engine read sessions use (SQLite: deferred BEGIN, never blocking writers)."""
        if self._read_engine is None:
            self._make_engines()
        assert self._read_engine is not None
        return self._read_engine

    def _make_engines(self) -> None:
        with self._engines_lock:
            if self._engine is not None:
                return
            # Every table is registered before the first query configures the ORM mappers;
            # otherwise a module imported lazily in a worker thread can race that step.
            import verkstad.models  # noqa: F401

            if self.is_sqlite:
                # Writers take the lock at BEGIN so read-modify-write units of work
                # queue on the busy timeout instead of failing at their first write;
                # readers (list queries) use a second engine with a deferred BEGIN.
                self._read_engine = _sqlite_engine(self.url, "BEGIN")
                self._engine = _sqlite_engine(self.url, "BEGIN IMMEDIATE")
            else:
                from sqlalchemy import create_engine

                self._read_engine = create_engine(self.url, pool_pre_ping=True, pool_size=5)
                self._engine = self._read_engine

    @property
    def _dbapi(self) -> Any:
        """The driver module (its exception classes)."""
        if self.is_sqlite:
            return sqlite3
        import psycopg

        return psycopg

    def sql(self, text: str) -> str:
        """SQL written with ``?`` placeholders in the driver's own style."""
        return text if self.is_sqlite else text.replace("%", "%%").replace("?", "%s")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back on any error."""
        from sqlalchemy.exc import DataError, OperationalError
        from sqlmodel import Session

        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except OperationalError as e:
                session.rollback()
                raise DatabaseUnavailable(str(e.orig)) from e
            except (OverflowError, DataError) as e:
                session.rollback()
                raise _too_large(e) from e
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session that never blocks writers (and is never committed).

        Closing it ends the transaction but leaves what it loaded readable (a
        rollback would expire those objects).
        """
        from sqlalchemy.exc import DataError, OperationalError
        from sqlmodel import Session

        with Session(self.read_engine) as session:
            try:
                yield session
            except OperationalError as e:
                raise DatabaseUnavailable(str(e.orig)) from e
            except (OverflowError, DataError) as e:
                raise _too_large(e) from e

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A plain SQLAlchemy connection, lighter than a Session."""
        from sqlalchemy.exc import OperationalError

        with self.read_engine.connect() as conn:
            try:
                yield conn
            except OperationalError as e:
                raise DatabaseUnavailable(str(e.orig)) from e
            finally:
                conn.rollback()

    def hot_read(self, work: Callable[[Any], T], snapshot: bool = False) -> T:
        """Run ``work(connection)`` on a plain DB-API connection: the hot read paths.

        One connection is kept open for them, in autocommit, so a read costs
        what its query costs: no pool checkout, no ping, no transaction round
        trips. While it is busy (another thread) a pooled connection is used,
        and if it fails (say the server restarted) it is dropped and the work
        runs once more on a pooled one, which the pool checks first.
        ``snapshot``: every query of ``work`` sees the same data (SQLite; on
        PostgreSQL each statement reads committed data, as in a session).
        Only for reads.
        """
        if not self._keep_hot or not self._hot_lock.acquire(blocking=False):
            return self._pooled_read(work, snapshot)
        try:
            if self._hot is None:
                self._hot = self._open_hot()
            try:
                return self._read(self._hot, work, snapshot)
            except self._dbapi.Error:
                self._close_hot()
            return self._pooled_read(work, snapshot)
        finally:
            self._hot_lock.release()

    def stream(self, statements: list[tuple[str, Any]], batch: int) -> Iterator[list[Any]]:
        """The rows of read-only ``statements`` (SQL, parameters), one after the other on
        one connection, ``batch`` at a time: memory stays flat however many rows there
        are (SQLite steps its cursor; PostgreSQL uses a server-side cursor)."""
        fairy = self._checkout()
        conn = fairy.dbapi_connection
        cache = None
        try:
            if self.is_sqlite:
                # A bigger page cache while streaming keeps the joined customers and vehicles
                # in memory (bounded: memory stays flat), as it was after.
                cache = conn.execute("PRAGMA cache_size").fetchone()[0]
                conn.execute(f"PRAGMA cache_size=-{STREAM_CACHE_KIB}")
                conn.execute("BEGIN")  # one snapshot for every statement
            for number, (sql, params) in enumerate(statements):
                cursor = conn.cursor(f"verkstad_stream_{number}") if not self.is_sqlite else None
                cursor = cursor or conn.cursor()
                cursor.execute(sql, params)
                while rows := cursor.fetchmany(batch):
                    yield rows
                cursor.close()
        except self._dbapi.OperationalError as e:
            fairy.invalidate()
            raise DatabaseUnavailable(str(e)) from e
        finally:
            if self.is_sqlite and conn.in_transaction:
                conn.execute("ROLLBACK")
            if cache is not None:
                conn.execute(f"PRAGMA cache_size={int(cache)}")
            fairy.close()

    def _checkout(self) -> Any:
        from sqlalchemy.exc import OperationalError

        try:
            return self.read_engine.raw_connection()
        except OperationalError as e:
            raise DatabaseUnavailable(str(e.orig)) from e

    def _pooled_read(self, work: Callable[[Any], T], snapshot: bool) -> T:
        fairy = self._checkout()
        try:
            return self._read(fairy.dbapi_connection, work, snapshot)
        except self._dbapi.OperationalError as e:
            fairy.invalidate()
            raise DatabaseUnavailable(str(e)) from e
        finally:
            fairy.close()

    def _read(self, conn: Any, work: Callable[[Any], T], snapshot: bool) -> T:
        if not (snapshot and self.is_sqlite):
            return work(conn)
        conn.execute("BEGIN")
        try:
            return work(conn)
        finally:
            conn.execute("ROLLBACK")

    def _open_hot(self) -> Any:
        """A DB-API connection of our own, set up as the engines set up theirs."""
        try:
            if self.is_sqlite:
                conn = sqlite3.connect(
                    self.file or ":memory:",
                    timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                    check_same_thread=False,  # one thread at a time: hot_read's lock
                    isolation_level=None,  # autocommit: every read sees the latest commit
                )
                _sqlite_pragmas(conn, None)
                return conn
            import psycopg

            return psycopg.connect(self.url.replace("+psycopg", "", 1), autocommit=True)
        except self._dbapi.OperationalError as e:
            raise DatabaseUnavailable(str(e)) from e

    def _close_hot(self) -> None:
        conn, self._hot = self._hot, None
        if conn is not None:
            try:
                conn.close()
            except self._dbapi.Error:
                pass

    def upgrade(self) -> None:
        """Apply the migrations; at head (every start but the first after an update) that is
        one query on the kept connection, without SQLAlchemy or Alembic."""
        if self._keep_hot and self.schema_at_head():
            return
        from sqlalchemy.exc import OperationalError

        try:
            upgrade(self.engine)
        except OperationalError as e:  # no server there, wrong password, no such database
            raise DatabaseUnavailable(str(e.orig)) from e

    def schema_at_head(self) -> bool:
        def current(conn: Any) -> Any:
            return conn.execute("SELECT version_num FROM alembic_version").fetchone()

        try:
            row = self.hot_read(current)
        except (self._dbapi.Error, DatabaseUnavailable):  # no alembic_version table yet
            return False
        return row is not None and row[0] == head_revision()

    def dispose(self) -> None:
        with self._hot_lock:
            self._close_hot()
        if self._engine is not None:
            self._engine.dispose()
        if self._read_engine is not None and self._read_engine is not self._engine:
            self._read_engine.dispose()


def _sqlite_engine(url: str, begin: str) -> Engine:
    from sqlalchemy import create_engine, event

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


class NumberTooLarge(DomainError):
    """A number beyond the database's 64-bit integers (an order number typed with 25
    digits): SQLite's driver raises OverflowError, PostgreSQL "out of range" (22003)."""

    def __init__(self) -> None:
        super().__init__(_("A number is too large (at most {max}).").format(max=2**63 - 1))


def _too_large(error: Exception) -> Exception:
    from sqlalchemy.exc import DataError

    if isinstance(error, DataError) and getattr(error.orig, "sqlstate", "") != "22003":
        return error  # another kind of bad data: not ours to explain
    return NumberTooLarge()


class DatabaseUnavailable(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(_("The database cannot be reached: {detail}").format(detail=detail))


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


@functools.cache
def head_revision() -> str:
    """The newest migration: revision ids are the files' four-digit prefixes (0001, 0002, …),
    listed once per process (every CLI invocation and every start asks)."""
    return max(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _at_head(engine: Engine) -> bool:
    """Whether the schema is current, without importing Alembic (it costs start-up time)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

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
