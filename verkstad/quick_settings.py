"""The settings the counter's first screen needs, read without pydantic.

Loading and validating every setting (verkstad.config: pydantic models for
each provider, mail, reminders…) costs about as much as importing Textual.
The first screen needs only a few top-level values: the database, the user,
the language, the keys and the capture window. When the config file and the
VERKSTAD_* variables hold nothing but such values, and each is one the full
validation would accept as it is, they are read here; anything else (a
section, a value that needs coercing, an unknown key) returns None and the
caller loads everything, with its precise error messages. Any other setting
read from the result loads and validates everything then, exactly as
``load_settings`` does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from verkstad.i18n import LANGUAGES
from verkstad.paths import config_file, data_dir

if TYPE_CHECKING:
    from verkstad.config import Settings

ENV_PREFIX = "VERKSTAD_"
# Settings' top-level fields that are plain values, with what the full validation accepts
# (tests/test_config.py checks these against verkstad.config.Settings).
QUICK: dict[str, tuple[type, float | None, float | None]] = {
    # name: (type, minimum, maximum)
    "database_url": (str, None, None),
    "user": (str, None, None),
    "lang": (str, None, None),
    "sandbox_url": (str, None, None),
    "poll_interval_seconds": (int, 1, 3600),
    "capture_window_minutes": (int, 1, 24 * 60),
}
# The other fields: the sections ([vipps], [smtp]…), the key table and http_timeout_seconds.
OTHER_FIELDS = frozenset(
    {
        "keys",
        "http_timeout_seconds",
        "vipps",
        "swish",
        "stripe",
        "resurs",
        "sms",
        "smtp",
        "printing",
        "reminders",
        "reports",
    }
)
DEFAULTS: dict[str, Any] = {
    "database_url": "",
    "user": "",
    "lang": "sv",
    "sandbox_url": "http://127.0.0.1:8765",
    "poll_interval_seconds": 5,
    "capture_window_minutes": 15,
}


def _accepted(name: str, value: Any) -> bool:
    kind, low, high = QUICK[name]
    if type(value) is not kind:  # (no bool for int, no coercion: the full load decides)
        return False
    if name == "lang" and value not in LANGUAGES:
        return False
    if isinstance(value, int) and low is not None and high is not None:
        return low <= value <= high
    return True


def _file_values(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return {}
    import tomllib  # (only here: without a file the start does not pay for it)

    try:
        # (bytes, as the full load reads them: read_text would turn a lone CR, which
        # TOML refuses, into a newline)
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    if any(k not in QUICK or not _accepted(k, v) for k, v in data.items()):
        return None
    return data


def _env_values(environ: dict[str, str]) -> dict[str, Any] | None:
    values: dict[str, Any] = {}
    for key, text in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        section = name.split("__", 1)[0]
        if section in OTHER_FIELDS:
            return None
        if name not in QUICK:
            continue  # not a setting (VERKSTAD_CONFIG, VERKSTAD_DATA_DIR…): ignored by both
        kind = QUICK[name][0]
        value: Any = text
        if kind is int:
            if not text.isascii() or not text.isdigit():
                return None
            value = int(text)
        if not _accepted(name, value):
            return None
        values[name] = value
    return values


class QuickSettings:
    """The first screen's settings; anything else comes from the full, validated load."""

    def __init__(
        self,
        values: dict[str, Any],
        cli: dict[str, Any] | None,
        path: Path | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        self._values = values
        self._load = (path, environ, cli)
        self._full: Settings | None = None

    def full(self) -> Settings:
        if self._full is None:
            from verkstad.config import load_settings

            self._full = load_settings(*self._load)
        return self._full

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._values:
            return self._values[name]
        return getattr(self.full(), name)

    def resolved_database_url(self) -> str:
        if self._values["database_url"]:
            return str(self._values["database_url"])
        return f"sqlite:///{data_dir() / 'verkstad.db'}"


def quick_settings(
    cli: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    path: Path | None = None,
) -> Settings | None:
    """The settings as ``load_settings(path, environ, cli)`` would give them, if they are
    simple enough to read without pydantic (see the module's docstring); else None."""
    given_env = environ
    environ = dict(os.environ) if environ is None else environ
    from_file = _file_values(path or config_file())
    from_env = _env_values(environ)
    if from_file is None or from_env is None:
        return None
    given = {k: v for k, v in (cli or {}).items() if v}
    if any(k not in QUICK or not _accepted(k, v) for k, v in given.items()):
        return None
    values = {**DEFAULTS, "keys": {}, **from_file, **from_env, **given}
    return cast("Settings", QuickSettings(values, cli, path, given_env))
