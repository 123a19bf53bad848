"""The ``verkstad`` sub-commands: the Typer app, and turning its errors into one line.

Kept apart from ``verkstad.cli`` so that plain ``verkstad`` (the counter's TUI) starts
without importing Typer (tens of milliseconds at every start).
"""

from __future__ import annotations

import enum
import re
from importlib import import_module
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

from verkstad.cli.context import Context
from verkstad.errors import DomainError
from verkstad.i18n import LANGUAGES, _, current_language

# The command modules in the order they register (reminders and messages after books:
# they add `paid` and `email` to its invoice group), and which of them make each top-level
# command. A command line that names a command loads only its modules: 90–140 ms less
# for most commands (BENCHMARKS.md). No command, --help first or an unknown name loads them
# all. tests/test_cli.py checks this map against the whole tree.
MODULES = (
    "admin",
    "customers",
    "orders",
    "extra_costs",
    "books",
    "reminders",
    "messages",
    "mpay",
    "background",
    "sandbox",
    "demo",
)
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("db", "config", "users", "company"), ("admin",)),
    **dict.fromkeys(("customers", "vehicles"), ("customers",)),
    "orders": ("orders", "books"),
    "extra-costs": ("extra_costs",),
    "invoice": ("books", "reminders", "messages"),
    **dict.fromkeys(("receipt", "ledger", "settlement", "export"), ("books",)),
    **dict.fromkeys(("reminders", "report"), ("reminders",)),
    "templates": ("books", "messages"),  # messages adds to the invoice group books makes
    **dict.fromkeys(("mpay", "payments", "channels"), ("mpay",)),
    **dict.fromkeys(("scheduler", "callbacks"), ("background",)),
    "sandbox": ("sandbox",),
    "demo": ("demo",),
}


def build_app(modules: tuple[str, ...] = MODULES) -> typer.Typer:
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

    for module in (m for m in MODULES if m in modules):
        if module == "sandbox":
            from verkstad.sandbox.cli import app as sandbox_app

            help_text = _("The local emulator of the payment providers.")
            app.add_typer(sandbox_app, name="sandbox", help=help_text)
        else:
            import_module(f"verkstad.cli.{module}").register(app)
    return app


# The click command built from the Typer app, per language (its help is translated when it
# is built) and set of modules. Building it inspects every command's signature: tens of
# milliseconds that a process running the CLI more than once (the tests, a script host)
# pays only once.
_COMMANDS: dict[tuple[str, tuple[str, ...]], Any] = {}


def _command(args: list[str]) -> Any:
    key = current_language(), COMMAND_MODULES.get(_command_word(args) or "", MODULES)
    if key not in _COMMANDS:
        command = typer.main.get_command(build_app(key[1]))
        _bound_whole_numbers(command)
        _COMMANDS[key] = command
    return _COMMANDS[key]


def _command_word(args: list[str]) -> str | None:
    """The first argument past the global options: the command."""
    from verkstad.cli import split_global_options

    rest = split_global_options(args)[1]
    return rest[0] if rest else None


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
    if found := re.match(r"No such command '(.*?)'\.(?: Did you mean (.*)\?)?$", message, re.S):
        name, similar = found.groups()
        text = _("there is no command {name}").format(name=name)
        if similar:  # click's suggestions: 'export', 'report'
            text += " " + _("(did you mean {names}?)").format(names=similar.replace("'", ""))
        return text
    if found := re.match(r"Got unexpected extra argument\S* \((.*)\)", message, re.S):
        return _("unexpected argument: {arguments}").format(arguments=found.group(1))
    if message.startswith("Missing command"):
        return _("a command is missing")
    return _("the command line is not valid ({detail})").format(detail=message)


def run_command(args: list[str]) -> int:
    """Run a sub-command (or the root with its options); the exit code, never a traceback
    for a user mistake."""
    from verkstad.cli import error_line

    try:
        _command(args)(args=args, prog_name="verkstad", standalone_mode=False)
    except DomainError as e:
        error_line(str(e))
        return 1
    except typer.Exit as e:
        return e.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return 130
    except NoArgsIsHelpError as e:  # a group without its command: its help
        typer.echo(e.format_message(), err=True)
        return 2
    except typer.TyperException as e:  # usage errors: unknown option, bad value
        error_line(usage_message(e))
        return int(getattr(e, "exit_code", 2))
    return 0
