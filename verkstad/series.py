"""Gapless number series (orders, customers, invoices).

The next number is taken with an UPDATE … RETURNING inside the caller's
transaction: the row lock serialises concurrent takers, and a rollback gives
the number back, so a committed series never has a gap.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlmodel import Field, Session, SQLModel


class Series(SQLModel, table=True):
    __tablename__ = "series"
    name: str = Field(primary_key=True, max_length=30)
    next_value: int


def take_number(conn: Session | Connection, name: str) -> int:
    return reserve_block(conn, name, 1)


def reserve_block(conn: Session | Connection, name: str, count: int) -> int:
    """Take ``count`` consecutive numbers (0 peeks at the next one); returns the first."""
    row = conn.execute(
        text("UPDATE series SET next_value = next_value + :k WHERE name = :n RETURNING next_value"),
        {"k": count, "n": name},
    ).first()
    if row is None:  # the migrations create every series; a missing one is a bug
        raise LookupError(f"number series {name!r} does not exist")
    return int(row[0]) - count
