"""The CLI's context: settings, database and acting user, each made on first use.

Without Typer, so that plain ``verkstad`` (the TUI) starts without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from verkstad.db import Database
from verkstad.users import Actor

if TYPE_CHECKING:
    from verkstad.config import Settings


@dataclass
class Context:
    """Built once per invocation from the global options; the database opens on first use."""

    cli_options: dict[str, Any]
    _settings: Settings | None = None
    _db: Database | None = None
    _actor: Actor | None = None
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from verkstad.quick_settings import quick_settings

            # Simple settings (the usual case at the counter) are read without pydantic;
            # anything else, and any setting beyond the simple ones, by load_settings.
            self._settings = quick_settings(self.cli_options)
            if self._settings is None:
                from verkstad.config import load_settings

                self._settings = load_settings(cli=self.cli_options)
        return self._settings

    @property
    def db(self) -> Database:
        if self._db is None:
            from verkstad.clock import set_timezone
            from verkstad.mpay.capture_window import set_capture_window
            from verkstad.orders.queries import company_basics

            self._db = Database(self.settings.resolved_database_url())
            self.cleanups.append(self._db.dispose)
            self._db.upgrade()
            set_timezone(company_basics(self._db).timezone)
            set_capture_window(self.settings.capture_window_minutes)
            if self.settings.user:
                self.actor  # noqa: B018 - an unknown --user is an error even for reads
        return self._db

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            from verkstad.users import resolve_actor

            self._actor = resolve_actor(self.db, self.settings.user or None)
        return self._actor
