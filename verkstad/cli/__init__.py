"""The ``verkstad`` command: the TUI without a sub-command, everything else scriptable.

The language is chosen before the commands are built so their help is
translated too. The commands (verkstad.cli.commands) are built only when one is
asked for: the TUI starts without Typer. A user mistake prints one line to
stderr and exits 1; a usage error (unknown option) exits 2.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Sequence

from verkstad.errors import DomainError, ValidationError
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
        from verkstad.quick_settings import quick_settings

        quick = quick_settings()
        if quick is not None:
            return quick.lang
        from verkstad.config import load_settings

        return load_settings().lang
    except DomainError:
        return "sv"


GLOBAL_OPTIONS = ("--db", "--user", "--lang")


def split_global_options(args: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The global options in front (``--db URL``, ``--lang=en``) and the arguments after
    them, the command first; a global option missing its value stays with the rest."""
    options: dict[str, str] = {}
    rest = list(args)
    while rest:
        name, eq, value = rest[0].partition("=")
        if name not in GLOBAL_OPTIONS or (not eq and len(rest) < 2):
            break
        rest.pop(0)
        options[name[2:]] = value if eq else rest.pop(0)
    return options, rest


def _tui_only(args: list[str]) -> dict[str, str] | None:
    """The global options if ``args`` is nothing but them (then the TUI opens without
    building every command: a faster start at the counter); else None."""
    options, rest = split_global_options(args)
    return None if rest else options


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


def error_line(message: str) -> None:
    """A user mistake, as one line on stderr."""
    print(_("Error: {message}").format(message=printable(message)), file=sys.stderr)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv``; returns the exit code (never raises for a user mistake)."""
    args = list(sys.argv[1:] if argv is None else argv)
    lang = _language_from(args)
    set_language(lang if lang in LANGUAGES else "sv")
    try:
        _require_utf8(args)
        options = _tui_only(args)
        if options is not None and options.get("lang", "sv") in LANGUAGES:
            from verkstad.cli.context import Context
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
    except DomainError as e:
        error_line(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
    from verkstad.cli.commands import run_command

    return run_command(args)


def main() -> None:
    sys.exit(run())
