"""Settings: a TOML file in the user's config dir, then VERKSTAD_* variables, then CLI options.

Top-level keys map to ``VERKSTAD_<KEY>`` (``VERKSTAD_DATABASE_URL``); keys in a
table map to ``VERKSTAD_<TABLE>__<KEY>`` (``VERKSTAD_SMTP__HOST``). Secrets are
``SecretStr`` and are masked wherever settings are shown.
"""

from __future__ import annotations

import os
import re
import tomllib
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic import ValidationError as PydanticValidationError

from verkstad.errors import ConfigError
from verkstad.i18n import LANGUAGES, _
from verkstad.paths import APP_NAME as APP_NAME
from verkstad.paths import config_dir as config_dir
from verkstad.paths import config_file as config_file
from verkstad.paths import data_dir as data_dir

ENV_PREFIX = "VERKSTAD_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VippsSettings(_Section):
    base_url: str = ""
    client_id: str = "sandbox-client"
    client_secret: SecretStr = SecretStr("sandbox-secret")
    subscription_key: SecretStr = SecretStr("sandbox-subscription-key")
    merchant_serial_number: str = "123456"
    webhook_secret: SecretStr = SecretStr("sandbox-webhook-secret")


class SwishSettings(_Section):
    base_url: str = ""
    payee_alias: str = "1231181189"
    callback_url: str = "https://127.0.0.1/swish/callback"
    callback_secret: SecretStr = SecretStr("")  # keys the callbackIdentifier HMAC
    cert_file: str = ""
    key_file: str = ""
    ca_file: str = ""


class StripeSettings(_Section):
    base_url: str = ""
    api_key: SecretStr = SecretStr("sk_test_sandbox")
    webhook_secret: SecretStr = SecretStr("whsec_sandbox")


class ResursSettings(_Section):
    base_url: str = ""
    client_id: str = "sandbox-client"
    client_secret: SecretStr = SecretStr("sandbox-secret")
    store_id: str = "sandbox-store"
    callback_url: str = ""  # where Resurs posts authorization/management callbacks, if any


class SmsSettings(_Section):
    base_url: str = ""
    username: str = "verkstad"
    password: SecretStr = SecretStr("sandbox-sms-password")
    sender: str = "Verkstad"


class SmtpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=1, le=65535)
    security: str = "none"
    username: str = ""
    password: SecretStr = SecretStr("")
    sender: str = "verkstad@example.se"

    @field_validator("security")
    @classmethod
    def _security(cls, v: str) -> str:
        if v not in ("none", "starttls", "ssl"):
            raise ValueError(_("must be one of: none, starttls, ssl"))
        return v


class PrintingSettings(_Section):
    folder: str = ""  # where "Skriv ut" saves PDFs (default: print/ in the data dir)
    command: str = ""  # e.g. "lp -d kassa" or "lp -d kassa {file}"; empty: only save


class RemindersSettings(_Section):
    """Payment reminders for invoices (FAKTURA) that are not paid by their due date."""

    days_after_due: list[int] = Field(default_factory=lambda: [7, 14])  # one level each; [] = off
    hour: int = Field(default=8, ge=0, le=23)  # local hour of the day they are sent from
    # Påminnelseavgift in öre, 0 = none. Swedish law (1981:739) allows at most 60 kr, and only
    # if it was agreed when the debt arose; Norwegian purregebyr have their own, lower cap.
    fee_minor: int = Field(default=0, ge=0, le=6000)

    @field_validator("days_after_due", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        return v.replace(",", " ").split() if isinstance(v, str) else v

    @field_validator("days_after_due")
    @classmethod
    def _increasing(cls, v: list[int]) -> list[int]:
        if any(d < 1 for d in v) or any(b <= a for a, b in pairwise(v)):
            raise ValueError(_("whole days after the due date, increasing, e.g. [7, 14]"))
        return v


class ReportsSettings(_Section):
    """Payment reports written when each period has ended (verkstad.ledger.reports)."""

    periods: list[str] = Field(default_factory=lambda: ["month"])  # day, week, month; [] = off
    folder: str = ""  # default: reports/ in the data dir
    email: str = ""  # the bookkeeper, who gets each report as an attachment; "" = none

    @field_validator("periods", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        return v.replace(",", " ").split() if isinstance(v, str) else v

    @field_validator("periods")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        if any(p not in ("day", "week", "month") for p in v):
            raise ValueError(_("must be one of: {choices}").format(choices="day, week, month"))
        return v


class Settings(_Section):
    database_url: str = ""
    user: str = ""
    lang: str = "sv"
    sandbox_url: str = "http://127.0.0.1:8765"
    http_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    poll_interval_seconds: int = Field(default=5, ge=1, le=3600)
    # Staff have this long to capture or cancel a reserved payment; then verkstad captures it.
    capture_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    keys: dict[str, str] = Field(
        default_factory=dict
    )  # binding id -> key, e.g. send_payment = "f2"
    vipps: VippsSettings = Field(default_factory=VippsSettings)
    swish: SwishSettings = Field(default_factory=SwishSettings)
    stripe: StripeSettings = Field(default_factory=StripeSettings)
    resurs: ResursSettings = Field(default_factory=ResursSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    printing: PrintingSettings = Field(default_factory=PrintingSettings)
    reminders: RemindersSettings = Field(default_factory=RemindersSettings)
    reports: ReportsSettings = Field(default_factory=ReportsSettings)

    def print_folder(self) -> Path:
        return (
            Path(self.printing.folder).expanduser()
            if self.printing.folder
            else data_dir() / "print"
        )

    @field_validator("lang")
    @classmethod
    def _lang(cls, v: str) -> str:
        if v not in LANGUAGES:
            raise ValueError(_("must be one of: {choices}").format(choices=", ".join(LANGUAGES)))
        return v

    def reports_folder(self) -> Path:
        return (
            Path(self.reports.folder).expanduser()
            if self.reports.folder
            else data_dir() / "reports"
        )

    def provider_url(self, name: str) -> str:
        """The base URL of a provider: its own setting, else the sandbox's."""
        own = getattr(self, name).base_url
        return (own or self.sandbox_url).rstrip("/")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{data_dir() / 'verkstad.db'}"

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, every secret replaced by ********."""

        def mask(value: Any) -> Any:
            if isinstance(value, SecretStr):
                return "********" if value.get_secret_value() else ""
            if isinstance(value, BaseModel):
                return {k: mask(getattr(value, k)) for k in type(value).model_fields}
            return value

        data = mask(self)
        data["database_url"] = _mask_url_password(self.resolved_database_url())
        return data


def _mask_url_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1********@", url)


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sections = {
        name
        for name, f in Settings.model_fields.items()
        if isinstance(f.default_factory, type) and issubclass(f.default_factory, BaseModel)
    }
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if "__" in name:
            section, sub = name.split("__", 1)
            if section in sections:
                out.setdefault(section, {})[sub] = value
        elif name in Settings.model_fields and name not in sections:
            out[name] = value
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = _merge(merged[k], v)
        else:
            merged[k] = v
    return merged


def _line_of(text: str, key_path: tuple[str, ...]) -> int | None:
    """The line in the TOML text that sets the last key of ``key_path`` (best effort)."""
    table = key_path[0] if len(key_path) > 1 else None
    key = key_path[-1]
    in_table = table is None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = re.match(r"^\[([^\]]+)\]", stripped)
        if header:
            in_table = header.group(1).strip() == table
            continue
        if in_table and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
    return None


def load_settings(
    path: Path | None = None,
    environ: dict[str, str] | None = None,
    cli: dict[str, Any] | None = None,
) -> Settings:
    """File, then environment, then CLI options (only those the user gave)."""
    path = path or config_file()
    environ = dict(os.environ) if environ is None else environ
    file_data: dict[str, Any] = {}
    text = ""
    if path.exists():
        text = _read_file(path)
        try:
            file_data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            line = re.search(r"at line (\d+)", str(e))
            raise _file_error(
                path,
                _("this is not valid TOML (check quotes, brackets and = signs)"),
                int(line.group(1)) if line else len(text.splitlines()) or 1,
            ) from None
    try:
        Settings.model_validate(file_data)
    except PydanticValidationError as e:
        raise _describe(e, path, text, "file") from None
    merged = _merge(file_data, _env_overrides(environ))
    try:
        Settings.model_validate(merged)
    except PydanticValidationError as e:
        raise _describe(e, path, text, "env") from None
    try:
        return Settings.model_validate(_merge(merged, {k: v for k, v in (cli or {}).items() if v}))
    except PydanticValidationError as e:
        raise _describe(e, path, text, "cli") from None


def _file_error(path: Path, reason: str, line: int | None = None) -> ConfigError:
    where = f"{path}, {_('line {n}').format(n=line)}" if line else str(path)
    return ConfigError(
        _("Configuration file {path}: {error}").format(path=where, error=reason), reason
    )


def _read_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise _file_error(
            path, _("cannot be read ({error})").format(error=e.strerror or type(e).__name__)
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _file_error(path, _("must be UTF-8 text"), data[: e.start].count(b"\n") + 1) from None


def value_reason(error: Any, own_words: bool = True) -> str:
    """Pydantic's complaint about a value (one of ``ValidationError.errors()``) in the
    user's language: pydantic's own texts are English only. ``own_words``: a validator's
    ValueError carries verkstad's (translated) message, so it is shown as it is."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _("unknown setting")
    if kind == "value_error" and "error" in ctx and own_words:
        return str(ctx["error"])
    if kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return _("must be a whole number")
    if kind in ("float_type", "float_parsing", "finite_number"):
        return _("must be a number")
    if kind in ("bool_type", "bool_parsing"):
        return _("must be true or false")
    if kind in ("string_type", "string_unicode"):
        return _("must be text in quotes")
    if kind in ("list_type", "tuple_type", "set_type"):
        return _("must be a list, e.g. [7, 14]")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return _("must be a table of settings")
    bounds = {
        "greater_than": _("must be more than {n}"),
        "greater_than_equal": _("must be at least {n}"),
        "less_than": _("must be less than {n}"),
        "less_than_equal": _("must be at most {n}"),
    }
    if kind in bounds:
        limit = next(iter(ctx.values()), "")
        return bounds[kind].format(n=limit)
    return _("is not a valid value here")


def _describe(error: PydanticValidationError, path: Path, text: str, source: str) -> ConfigError:
    first = error.errors()[0]
    keys = tuple(str(p) for p in first["loc"])
    dotted = ".".join(keys)
    reason = value_reason(first)
    if source == "file":
        line = _line_of(text, keys)
        where = f"{path}, " + (_("line {n}").format(n=line) + ", " if line else "")
        message = _("Configuration file {where}key '{key}': {reason}").format(
            where=where, key=dotted, reason=reason
        )
    elif source == "env":
        message = _("Setting {name}: {reason}").format(
            name=ENV_PREFIX + "__".join(k.upper() for k in keys), reason=reason
        )
    else:
        option = {"database_url": "--db"}.get(keys[0], "--" + keys[0]) if keys else ""
        message = _("Setting {name}: {reason}").format(name=option, reason=reason)
    return ConfigError(message, reason)
