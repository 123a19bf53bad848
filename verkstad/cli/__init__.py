"""The ``verkstad`` command: the TUI without a sub-command, everything else scriptable.

The language is chosen before the commands are built so their help is
translated too. A user mistake prints one line to stderr and exits 1; a
usage error (unknown option) exits 2.
"""

from __future__ import annotations

import enum
import os
import re
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

import typer
import typer.main

# The usage errors typer raises (it vendors click; its texts are English only).
from typer._click.exceptions import (
    BadOptionUsage,
    BadParameter,
    MissingParameter,
    NoArgsIsHelpError,
    NoSuchOption,
    UsageError,
)

from verkstad.errors import DomainError, ValidationError
from verkstad.i18n import LANGUAGES, _, current_language, set_language


def _language_from(argv: Sequence[str]) -> str:
    """--lang from the arguments, else VERKSTAD_LANG, else the config file, else Swedish."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    if os.environ.get("VERKSTAD_LANG"):
        return os.environ["VERKSTAD_LANG"]
    try:
        from verkstad.quick_settings import quick_settings

        quick = quick_settings()
        if quick is not None:
            return quick.lang
        from verkstad.config import load_settings

        return load_settings().lang
    except DomainError:
        return "sv"


def build_app() -> typer.Typer:
    from verkstad.cli import (
        admin,
        background,
        books,
        customers,
        demo,
        extra_costs,
        messages,
        mpay,
        orders,
        reminders,
    )
    from verkstad.cli.common import Context

    app = typer.Typer(
        help=_("verkstad: workshop orders, mobile payments and books at the counter."),
        no_args_is_help=False,
        add_completion=False,
        rich_markup_mode=None,
    )

    @app.callback(invoke_without_command=True)
    def root(
        ctx: typer.Context,
        db: str = typer.Option(
            "", "--db", help=_("Database URL (default: SQLite in the data dir)")
        ),
        user: str = typer.Option(
            "", "--user", help=_("Acting user (default: VERKSTAD_USER or login)")
        ),
        lang: str = typer.Option("", "--lang", help="sv | en | nb | fr"),
    ) -> None:
        if lang and lang not in LANGUAGES:
            raise DomainError(
                _("--lang must be one of: {choices}").format(choices=", ".join(LANGUAGES))
            )
        ctx.obj = Context({"database_url": db, "user": user, "lang": lang})
        ctx.call_on_close(lambda: [f() for f in reversed(ctx.obj.cleanups)])
        if ctx.invoked_subcommand is None:
            from verkstad.cli.tui import open_tui

            open_tui(ctx.obj)

    admin.register(app)
    customers.register(app)
    orders.register(app)
    extra_costs.register(app)
    books.register(app)
    reminders.register(app)  # after books: it adds `paid` to the invoice group
    messages.register(app)
    mpay.register(app)
    background.register(app)
    from verkstad.sandbox.cli import app as sandbox_app

    app.add_typer(
        sandbox_app, name="sandbox", help=_("The local emulator of the payment providers.")
    )
    demo.register(app)
    return app


GLOBAL_OPTIONS = ("--db", "--user", "--lang")
# The click command built from the Typer app, per language (its help is translated when it
# is built). Building it inspects every command's signature: tens of milliseconds that a
# process running the CLI more than once (the tests, a script host) pays only once.
_COMMANDS: dict[str, Any] = {}


def _command() -> Any:
    lang = current_language()
    if lang not in _COMMANDS:
        command = typer.main.get_command(build_app())
        _bound_whole_numbers(command)
        _COMMANDS[lang] = command
    return _COMMANDS[lang]


LARGEST = 10**15 - 1  # no order, customer or payment number, count or port comes near


def _bound_whole_numbers(command: Any) -> None:
    """Every whole-number option and argument refuses what no database column holds
    (an order number with 25 digits), naming itself, before any command runs."""
    for param in getattr(command, "params", []):
        descriptor = getattr(param, "type_descriptor", None)
        annotation = getattr(descriptor, "annotation", None)
        if param.callback is None and annotation in (int, list[int]):
            param.callback = _within_bounds
    for sub in getattr(command, "commands", {}).values():
        _bound_whole_numbers(sub)


class OutOfRange(BadParameter):
    """A whole number beyond LARGEST; its message is already in the user's language."""


def _within_bounds(ctx: Any, param: Any, value: Any) -> Any:
    numbers = value if isinstance(value, list | tuple) else [value]
    if any(isinstance(n, int) and abs(n) > LARGEST for n in numbers):
        raise OutOfRange(
            _("must be a whole number from {low} to {high}").format(low=-LARGEST, high=LARGEST),
            ctx=ctx,
            param=param,
        )
    return value


def _tui_only(args: list[str]) -> dict[str, str] | None:
    """The global options if ``args`` is nothing but them (then the TUI opens without
    building every command: a faster start at the counter); else None."""
    options: dict[str, str] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name not in GLOBAL_OPTIONS:
            return None
        if not eq:
            if not rest:
                return None
            value = rest.pop(0)
        options[name[2:]] = value
    return options


def _param_name(param: Any) -> str:
    """An option as typed (--customer), an argument as its help shows it (ORDER)."""
    names = list(getattr(param, "opts", None) or [getattr(param, "name", None) or "?"])
    return names[0] if names[0].startswith("-") else names[0].upper()


def _param_reason(error: BadParameter) -> str:
    from pydantic import ValidationError as PydanticValidationError

    from verkstad.config import value_reason

    bare = getattr(getattr(error.param, "type_descriptor", None), "annotation", None)
    if isinstance(bare, type) and issubclass(bare, enum.Enum):
        choices = ", ".join(str(m.value) for m in bare)
        return _("must be one of: {choices}").format(choices=choices)
    cause = error.__cause__
    if isinstance(cause, PydanticValidationError) and cause.errors():
        return value_reason(cause.errors()[0], own_words=False)
    return _("is not a valid value here")


def usage_message(error: Exception) -> str:
    """What is wrong with the command line, in the user's language (click's own texts
    are English only): it names the option, argument or command."""
    if isinstance(error, NoSuchOption):
        option = error.option_name
        if not option.isprintable() or any(c.isspace() for c in option):
            option = repr(option)  # so that a space or an invisible character shows
        return _("there is no option {option}").format(option=option)
    if isinstance(error, BadOptionUsage):
        if "does not take a value" in error.message:
            return _("{option} takes no value").format(option=error.option_name)
        return _("{option} needs a value").format(option=error.option_name)
    if isinstance(error, MissingParameter):
        return _("{name} is missing").format(name=_param_name(error.param))
    if isinstance(error, OutOfRange):
        return f"{_param_name(error.param)}: {error.message}"
    if isinstance(error, BadParameter):
        return f"{_param_name(error.param)}: {_param_reason(error)}"
    message = error.format_message() if isinstance(error, UsageError) else str(error)
    if found := re.match(r"No such command '(.*)'", message, re.S):
        return _("there is no command {name}").format(name=found.group(1))
    if found := re.match(r"Got unexpected extra argument\S* \((.*)\)", message, re.S):
        return _("unexpected argument: {arguments}").format(arguments=found.group(1))
    if message.startswith("Missing command"):
        return _("a command is missing")
    return _("the command line is not valid ({detail})").format(detail=message)


def printable(message: str) -> str:
    """A message for the terminal: what the user typed is echoed with its control
    characters escaped (no escape sequence reaches the terminal, no second line)."""
    return "".join(
        c.encode("unicode_escape").decode("ascii")
        if unicodedata.category(c) in ("Cc", "Zl", "Zp")  # controls, line/paragraph breaks
        else c
        for c in message
    )


def _require_utf8(args: list[str]) -> None:
    """Refuse an argument the shell passed as bytes that are not UTF-8 (Python keeps them
    as lone surrogates, which no database, file or terminal can take), naming it."""
    for i, arg in enumerate(args):
        if any("\ud800" <= c <= "\udfff" for c in arg):
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            option = args[i - 1] if i and args[i - 1].startswith("-") else shown
            raise ValidationError(option, _("must be UTF-8 text"))


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv``; returns the exit code (never raises for a user mistake)."""
    args = list(sys.argv[1:] if argv is None else argv)
    lang = _language_from(args)
    set_language(lang if lang in LANGUAGES else "sv")
    try:
        _require_utf8(args)
        options = _tui_only(args)
        if options is not None and options.get("lang", "sv") in LANGUAGES:
            from verkstad.cli.common import Context
            from verkstad.cli.tui import open_tui

            context = Context(
                {
                    "database_url": options.get("db", ""),
                    "user": options.get("user", ""),
                    "lang": options.get("lang", ""),
                }
            )
            try:
                open_tui(context)
            finally:
                for cleanup in reversed(context.cleanups):
                    cleanup()
            return 0
        _command()(args=args, prog_name="verkstad", standalone_mode=False)
    except DomainError as e:
        typer.echo(_("Error: {message}").format(message=printable(str(e))), err=True)
        return 1
    except typer.Exit as e:
        return e.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return 130
    except NoArgsIsHelpError as e:  # a group without its command: its help
        typer.echo(e.format_message(), err=True)
        return 2
    except typer.TyperException as e:  # usage errors: unknown option, bad value
        message = printable(usage_message(e))
        typer.echo(_("Error: {message}").format(message=message), err=True)
        return int(getattr(e, "exit_code", 2))
    return 0


def main() -> None:
    sys.exit(run())
