"""Users, roles and the acting user every service call carries."""

from __future__ import annotations

import getpass
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from verkstad.db import Database
from verkstad.errors import ConflictError, NotFoundError, PermissionDenied, ValidationError
from verkstad.i18n import N_, _

if TYPE_CHECKING:
    from verkstad.user_table import User as User


def __getattr__(name: str) -> Any:
    """The ``User`` table is in verkstad.user_table (SQLModel): who is acting, their role and
    their preferences are read without loading the ORM (the counter's first screen)."""
    if name == "User":
        from verkstad.user_table import User

        return User
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Role(StrEnum):
    STAFF = "STAFF"
    PAYMENT_MANAGER = "PAYMENT_MANAGER"
    ADMIN = "ADMIN"


ROLE_LABELS = {
    Role.STAFF: N_("Staff"),
    Role.PAYMENT_MANAGER: N_("Payment manager"),
    Role.ADMIN: N_("Administrator"),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: passed to every service call and written into the audit log."""

    name: str
    role: Role

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise PermissionDenied(
                _("{user} ({role}) may not do this; it needs the role {needed}.").format(
                    user=self.name,
                    role=_(ROLE_LABELS[self.role]),
                    needed=" / ".join(_(ROLE_LABELS[r]) for r in roles),
                )
            )


SYSTEM = Actor("system", Role.ADMIN)


def require_role(
    db: Database, actor: Actor, action: str, *roles: Role, message: str | None = None
) -> None:
    """Refuse unless ``actor`` has one of ``roles``; a refusal is audited (and committed).

    Call it outside any open write transaction (the audit needs its own).
    """
    if actor.role in roles:
        return
    from verkstad.audit import record

    with db.session() as s:
        record(s, actor, "permission", action, "refused", None, {"role": actor.role})
    if message:
        raise PermissionDenied(message)
    actor.require(*roles)


_NAME = re.compile(r"^[a-z0-9._-]{2,40}$")


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().upper())
    except ValueError:
        raise ValidationError(
            _("Role"), _("must be one of: {choices}").format(choices=", ".join(Role))
        ) from None


def add_user(db: Database, actor: Actor, name: str, role: Role, full_name: str = "") -> Actor:
    from sqlmodel import select

    from verkstad.audit import record
    from verkstad.user_table import User

    require_role(db, actor, "add_user", Role.ADMIN)
    name = name.strip().lower()
    if not _NAME.match(name):
        raise ValidationError(
            _("User name"), _("2–40 characters: lower-case letters, digits, '.', '_' or '-'")
        )
    with db.session() as s:
        if s.exec(select(User).where(User.name == name)).first():
            raise ConflictError(_("The user {name} already exists.").format(name=name))
        s.add(User(name=name, role=role, full_name=full_name.strip()[:100]))
        record(s, actor, "user", name, "create", None, {"role": role})
    return Actor(name, role)


def list_users(db: Database) -> list[dict[str, Any]]:
    from sqlmodel import select

    from verkstad.user_table import User

    with db.read() as s:
        users = s.exec(select(User).order_by(User.name)).all()
        return [
            {"name": u.name, "full_name": u.full_name, "role": u.role, "active": u.active}
            for u in users
        ]


def _active_user(db: Database, name: str) -> Actor | None:
    sql = db.sql("SELECT name, role FROM users WHERE name = ? AND active")
    row = db.hot_read(lambda conn: conn.execute(sql, (name,)).fetchone())
    return Actor(row[0], Role(row[1])) if row else None


def resolve_actor(db: Database, requested: str | None) -> Actor:
    """``--user`` / VERKSTAD_USER if given (it must exist), else the OS login, else admin."""
    if requested:
        user = _active_user(db, requested.strip().lower())
        if not user:
            raise NotFoundError(_("There is no user called {name}.").format(name=requested))
        return user
    try:
        login = getpass.getuser().lower()
    except (KeyError, OSError):
        login = ""
    user = (_active_user(db, login) if login else None) or _active_user(db, "admin")
    if not user:
        raise NotFoundError(_("There is no user called {name}.").format(name="admin"))
    return user


def get_preferences(db: Database, actor: Actor) -> dict[str, Any]:
    sql = db.sql("SELECT preferences FROM users WHERE name = ?")
    row = db.hot_read(lambda conn: conn.execute(sql, (actor.name,)).fetchone())
    return json.loads(row[0]) if row else {}


def set_preference(db: Database, actor: Actor, key: str, value: Any) -> None:
    from sqlmodel import select

    from verkstad.user_table import User

    with db.session() as s:
        user = s.exec(select(User).where(User.name == actor.name)).one()
        prefs = json.loads(user.preferences)
        prefs[key] = value
        user.preferences = json.dumps(prefs, ensure_ascii=False)
