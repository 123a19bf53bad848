"""Gapless number series (orders, customers, invoices).

The next number is taken with an UPDATE … RETURNING inside the caller's
transaction: the row lock serialises concurrent takers, and a rollback gives
the number back, so a committed series never has a gap.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Field, Session, SQLModel

# The first number of each series (rows inserted by the initial migration).

STARTS = {"order": 1001, "customer": 10001, "invoice": 1}


class Series(SQLModel, table=True):
    __tablename__ = "series"
    name: str = Field(primary_key=True, max_length=30)
    next_value: int


def take_number(session: Session, name: str) -> int:
    row = session.execute(
        text("UPDATE series SET next_value = next_value + 1 WHERE name = :n RETURNING next_value"),
        {"n": name},
    ).first()
    if row is None:  # the migrations create every series; a missing one is a bug
        raise LookupError(f"number series {name!r} does not exist")
    return int(row[0]) - 1


def reserve_block(session: Session, name: str, count: int) -> int:
    """Take ``count`` consecutive numbers at once (bulk seeding); returns the first."""
    first = take_number(session, name)
    session.execute(
        text("UPDATE series SET next_value = next_value + :k WHERE name = :n"),
        {"k": count - 1, "n": name},
    )
    return first
