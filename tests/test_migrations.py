"""Migrations build the schema from empty on both backends, and match the models exactly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import verkstad.models  # noqa: F401
from verkstad.db import Database, current_revision


def _check(db: Database) -> None:
    db.upgrade()
    db.upgrade()  # idempotent
    assert current_revision(db.engine) is not None
    tables = set(inspect(db.engine).get_table_names())
    assert {
        "orders",
        "order_lines",
        "customers",
        "vehicles",
        "users",
        "audit_events",
        "series",
    } <= tables
    with db.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT role FROM users WHERE name = 'admin'")).scalar_one()
            == "ADMIN"
        )
        assert (
            dict(conn.execute(text("SELECT name, next_value FROM series")).all())["order"] == 1001
        )
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_sqlite_from_empty(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    _check(db)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    db.dispose()


@pytest.mark.postgres
def test_postgres_from_empty(pg_url):
    db = Database(pg_url)
    _check(db)
    db.dispose()


def test_head_revision_is_alembics_head():
    from alembic.script import ScriptDirectory

    from verkstad.db import MIGRATIONS, head_revision

    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_sqlite_batch_migrations_keep_rows_and_references(tmp_path):
    """Batch mode rebuilds ``orders``; it runs with foreign keys off (with them on, dropping
    the old table checked every order against every referring table: hours on a big
    workshop), so afterwards every reference still holds and enforcement is back on."""
    from alembic import command

    from verkstad.db import alembic_config
    from verkstad.demo import seed

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    db.upgrade()
    seed(db, orders=60, seed_value=3)

    def counts() -> tuple[int, int, int]:
        with db.engine.connect() as conn:
            return tuple(  # type: ignore[return-value]
                conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
                for t in ("orders", "order_lines", "verifications")
            )

    before = counts()
    command.downgrade(alembic_config(db.engine), "0006")  # both ways rebuild ``orders``
    db.upgrade()
    assert counts() == before
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()
