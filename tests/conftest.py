"""Shared fixtures: a migrated database per test (SQLite by default, PostgreSQL on request)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import freezegun
import pytest
from sqlalchemy import create_engine, text

from verkstad.config import Settings
from verkstad.db import Database
from verkstad.i18n import set_language
from verkstad.sandbox.testing import RunningSandbox, WebhookReceiver, run_sandbox
from verkstad.users import Actor, Role

# The in-process sandbox, its server and event loops keep real time when a test freezes
# verkstad's clock (a frozen loop clock stalls the server's shutdown); the sandbox has its
# own virtual clock for moving provider time (sandbox.advance).
freezegun.configure(extend_ignore_list=["verkstad.sandbox", "uvicorn", "asyncio", "anyio"])

# Tests read English. Set it already while collecting: screens translate their key labels
# when first imported, and that must not depend on which tests happen to import them first.
set_language("en")

PG_URL = os.environ.get("VERKSTAD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1/test")


@pytest.fixture(autouse=True)
def _english_and_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests read messages in English; no test touches the user's real config or data dir."""
    for key in list(os.environ):
        if key.startswith("VERKSTAD_") and key != "VERKSTAD_TEST_PG_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("VERKSTAD_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("VERKSTAD_DATA_DIR", str(tmp_path / "data"))
    set_language("en")
    yield
    set_language("sv")


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture
def db(_migrated_sqlite: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "verkstad.db"
    shutil.copy(_migrated_sqlite, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as e:  # noqa: BLE001 - any failure means "not reachable"
        return str(e).splitlines()[0]
    return None


@pytest.fixture(scope="session")
def pg_available() -> None:
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but not reachable at {PG_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {problem}")


@pytest.fixture
def pg_url(pg_available: None) -> Iterator[str]:
    """A URL whose connections live in a fresh, private schema (dropped afterwards)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest) -> Database:
    """The test runs on both backends."""
    if request.param == "sqlite":
        return request.getfixturevalue("db")
    return request.getfixturevalue("pg_db")


@pytest.fixture
def admin() -> Actor:
    return Actor("admin", Role.ADMIN)


# The provider sandbox: one real HTTP server on a free loopback port for the whole run,
# emptied before each test that asks for it.


@pytest.fixture(scope="session")
def _sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with run_sandbox(tmp_path_factory.mktemp("sandbox") / "sandbox.db") as running:
        yield running


@pytest.fixture
def sandbox(_sandbox_server: RunningSandbox) -> RunningSandbox:
    _sandbox_server.reset()
    return _sandbox_server


@pytest.fixture
def settings(sandbox: RunningSandbox) -> Settings:
    """verkstad's settings with every provider pointing at the sandbox."""
    return sandbox.settings


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    yield hooks
    hooks.close()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The real ``verkstad`` entry point on a fresh SQLite file: (exit code, stdout, stderr)."""
    import sys

    from typer.testing import CliRunner

    from verkstad.cli import run

    monkeypatch.setenv("VERKSTAD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        with runner.isolation() as streams:
            code = run(["--lang", "en", *args])
            sys.stdout.flush()
            sys.stderr.flush()
            return code, streams[0].getvalue().decode(), streams[1].getvalue().decode()

    return invoke
