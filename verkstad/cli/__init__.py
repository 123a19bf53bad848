"""The ``verkstad`` command: the TUI without a sub-command, everything else scriptable.

The language is chosen before the commands are built so their help is
translated too. A user mistake prints one line to stderr and exits 1; a
usage error (unknown option) exits 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from verkstad.errors import DomainError
from verkstad.i18n import LANGUAGES, _, set_language


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


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv``; returns the exit code (never raises for a user mistake)."""
    args = list(sys.argv[1:] if argv is None else argv)
    lang = _language_from(args)
    set_language(lang if lang in LANGUAGES else "sv")
    try:
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
        build_app()(args=args, prog_name="verkstad", standalone_mode=False)
    except DomainError as e:
        typer.echo(_("Error: {message}").format(message=e), err=True)
        return 1
    except typer.Exit as e:
        return e.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return 130
    except typer.TyperException as e:  # usage errors: unknown option, bad value
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        typer.echo(_("Error: {message}").format(message=message), err=True)
        return int(getattr(e, "exit_code", 2))
    return 0


def main() -> None:
    sys.exit(run())
