"""The audit log: who, when, what, from → to, why. Written in the same transaction as the change."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, Session, SQLModel, select

from verkstad.clock import now
from verkstad.db import UTCDateTime

if TYPE_CHECKING:
    from verkstad.db import Database
    from verkstad.users import Actor


ENTITY_ID_LENGTH = 64


def entity_key(entity_id: object) -> str:
    """The id as the log stores it. One longer than the column (a payment reference may
    have 100 characters) keeps its start and gets a digest of the whole: still unique,
    still found by ``history``, and never refused by PostgreSQL."""
    key = str(entity_id)
    if len(key) <= ENTITY_ID_LENGTH:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{key[: ENTITY_ID_LENGTH - len(digest) - 1]}~{digest}"


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
    user_name: str = Field(max_length=40)
    entity: str = Field(max_length=30)
    entity_id: str = Field(max_length=ENTITY_ID_LENGTH)
    action: str = Field(max_length=40)
    before: str | None = Field(default=None, sa_column=Column(Text))
    after: str | None = Field(default=None, sa_column=Column(Text))
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def record(
    session: Session,
    actor: Actor,
    entity: str,
    entity_id: object,
    action: str,
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> None:
    session.add(
        AuditEvent(
            user_name=actor.name,
            entity=entity,
            entity_id=entity_key(entity_id),
            action=action,
            before=_dump(before),
            after=_dump(after),
            reason=reason,
        )
    )


def history(db: Database, entity: str, entity_id: object) -> list[dict[str, Any]]:
    with db.read() as s:
        rows = s.exec(
            select(AuditEvent)
            .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_key(entity_id))
            .order_by(AuditEvent.id)  # type: ignore[arg-type]
        ).all()
        return [
            {
                "at": e.at,
                "user": e.user_name,
                "action": e.action,
                "before": json.loads(e.before) if e.before else None,
                "after": json.loads(e.after) if e.after else None,
                "reason": e.reason,
            }
            for e in rows
        ]
