"""The users table (see verkstad.users for what the rest of verkstad asks of users)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from verkstad.clock import now
from verkstad.dbtypes import UTCDateTime
from verkstad.users import Role


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, unique=True)
    full_name: str = Field(default="", max_length=100)
    role: str = Field(default=Role.STAFF, max_length=20)
    active: bool = True
    preferences: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=now)
