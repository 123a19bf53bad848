"""Alembic environment: runs on the engine verkstad hands it (see db.upgrade)."""

from alembic import context
from sqlmodel import SQLModel

import verkstad.models  # noqa: F401  (registers every table on the metadata)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table by copying it and dropping the old one. With
            # foreign keys enforced, dropping ``orders`` checks each of its rows against
            # every table that refers to it, some through no usable index: hours on a
            # workshop with 100 000 orders. Off while migrating (it must be set outside
            # a transaction), then the references are checked and enforcement is back.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(f"a migration broke a foreign key: {tuple(broken)}")
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()  # (nothing left to roll back unless a migration failed)
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


run_migrations_online()
