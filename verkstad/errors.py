"""Errors a service raises for the user to read.

The message is already translated when the error is raised (the language is
chosen once at start), so the CLI and the TUI show ``str(error)`` as is.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the operation; nothing was changed."""


class ValidationError(DomainError):
    """A field's value broke a rule. ``field`` names the field as the user sees it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.rule = message


class NotFoundError(DomainError):
    """The thing asked for does not exist."""


class ConflictError(DomainError):
    """Someone else changed the data first (optimistic locking) or holds it."""


class PermissionDenied(DomainError):
    """The acting user's role does not allow the operation."""


class ConfigError(DomainError):
    """The configuration file or environment is broken. ``reason`` is the rule broken, in
    the user's language (the message adds where: the file, line and key, or the variable)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message
