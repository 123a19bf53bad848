"""The CLI end to end (typer's CliRunner isolation around the real entry point)."""

import json
import sys

import pytest
from typer.testing import CliRunner

from verkstad.cli import run


def test_whole_order_flow(cli):
    assert cli("customers", "add", "--name", "Åsa Öberg", "--phone", "070-123 45 67")[0] == 0
    code, out, _err = cli(
        "vehicles", "add", "--customer", "10001", "--reg", "abc 123", "--make", "Volvo"
    )
    assert code == 0 and "ABC123" in out
    code, out, _err = cli(
        "orders", "create", "--customer", "10001", "--vehicle", "ABC123", "--format", "json"
    )
    assert code == 0 and json.loads(out)["number"] == 1001
    assert cli("orders", "add-line", "1001", "--desc", "Bromsbelägg", "--price", "1 199,20")[0] == 0
    code, out, _err = cli(
        "orders",
        "add-line",
        "1001",
        "--kind",
        "labour",
        "--desc",
        "Arbete",
        "--qty",
        "1",
        "--price",
        "1850",
        "--format",
        "json",
    )
    data = json.loads(out)
    assert data["totals"] == {
        "net_minor": 304920,
        "vat_minor": 76230,
        "rounding_minor": 50,
        "total_minor": 381200,
        "per_rate": [{"vat_rate": 25, "net_minor": 304920, "vat_minor": 76230}],
    }
    assert cli("orders", "complete", "1001") == (0, "Order 1001 is now KLART.\n", "")
    code, out, _err = cli("orders", "list", "--status", "klart", "--format", "json")
    rows = json.loads(out)
    assert [r["number"] for r in rows] == [1001] and rows[0]["reg_number"] == "ABC123"
    code, out, _err = cli("orders", "show", "1001")
    assert code == 0 and "3\u00a0812,00\u00a0kr" not in out and "SEK3,812.00" in out
    code, out, _err = cli("orders", "history", "1001", "--format", "csv")
    assert out.splitlines()[0] == "at,user,action,before,after,reason" and "complete" in out
    code, out, _err = cli("orders", "history", "1001")  # a table: the actions in words
    assert "Order created" in out and "Mark complete" in out and "add_line" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["customers", "add", "--name", "Bo", "--phone", "12"],
            "Mobile phone: is not a valid phone number",
        ),
        (
            ["customers", "add", "--name", "Bo", "--email", "bo@"],
            "E-mail: is not a valid e-mail address",
        ),
        (["orders", "show", "4711"], "There is no order number 4711."),
        (["orders", "list", "--received-from", "2026-13-01"], "--received-from: must be a date"),
        (
            ["orders", "list", "--received-from", "2026-03-05", "--received-to", "2026-03-04"],
            "--received-to: must not be before --received-from",
        ),
        (
            ["orders", "list", "--created-from", "2026-03-05", "--created-to", "2026-01-01"],
            "--created-to: must not be before --created-from",
        ),
        (
            [
                "export",
                "csv",
                "payments",
                "--created-from",
                "2026-03-05",
                "--created-to",
                "2026-03-01",
            ],
            "--created-to: must not be before --created-from",
        ),
        (["orders", "list", "--status", "BETALD"], "Status: must be one of"),
        (["orders", "list", "--sort", "secret"], "Sort: must be one of"),
        (["users", "add", "x", "--role", "BOSS"], "Role: must be one of"),
        (["--user", "ghost", "orders", "list"], "There is no user called ghost."),
    ],
)
def test_user_mistakes_are_one_line_and_exit_1(cli, args, message):
    code, _out, err = cli(*args)
    assert code == 1
    assert err == f"Error: {message}\n" or (err.startswith("Error: ") and message in err)
    assert err.count("\n") == 1 and "Traceback" not in err


def test_usage_errors_exit_2_without_traceback(cli):
    code, _out, err = cli("orders", "list", "--limit", "zero")
    assert code == 2 and err.startswith("Error: ") and "Traceback" not in err


def test_a_mistyped_command_is_named_with_the_likely_ones(cli):
    code, _out, err = cli("exprt")
    assert (code, err) == (2, "Error: there is no command exprt (did you mean export, report?)\n")
    code, _out, err = cli("zzzq")
    assert (code, err) == (2, "Error: there is no command zzzq\n")


def test_bad_line_changes_nothing(cli):
    cli("customers", "add", "--name", "Bo")
    cli("orders", "create", "--customer", "10001")
    code, _out, err = cli("orders", "add-line", "1001", "--desc", "x", "--price", "12,3,4")
    assert code == 1 and "Unit price" in err
    _c, out, _e = cli("orders", "show", "1001", "--format", "json")
    assert json.loads(out)["lines"] == [] and json.loads(out)["version"] == 1


def test_users_roles_and_acting_user(cli):
    assert cli("users", "add", "anna", "--role", "staff")[0] == 0
    code, _out, err = cli("--user", "anna", "users", "add", "bo")
    assert code == 1 and "may not do this" in err
    code, out, _err = cli("users", "list", "--format", "json")
    assert {u["name"]: u["role"] for u in json.loads(out)} == {"admin": "ADMIN", "anna": "STAFF"}


def test_config_show_masks_secrets(cli, monkeypatch):
    monkeypatch.setenv("VERKSTAD_STRIPE__API_KEY", "sk_live_topsecret")
    code, out, _err = cli("config", "show", "--format", "json")
    assert (
        code == 0
        and "sk_live_topsecret" not in out
        and json.loads(out)["stripe"]["api_key"] == "********"
    )


def test_demo_seed_then_filtered_list(cli):
    code, out, _err = cli("demo", "seed", "--orders", "300")
    assert code == 0 and "300 orders" in out
    code, out, _err = cli(
        "orders",
        "list",
        "--paid",
        "--received-from",
        "2025-01-01",
        "--received-to",
        "2025-12-31",
        "--sort",
        "received_at",
        "--limit",
        "5",
        "--format",
        "json",
    )
    rows = json.loads(out)
    assert rows and all(r["payment_received"] and r["received_at"].startswith("2025") for r in rows)
    assert [r["received_at"] for r in rows] == sorted(r["received_at"] for r in rows)
    code, _out, err = cli("demo", "seed", "--orders", "10")
    assert code == 1 and "already has orders" in err


def test_swedish_is_the_default_language(tmp_path, monkeypatch):
    monkeypatch.setenv("VERKSTAD_DATABASE_URL", f"sqlite:///{tmp_path / 'sv.db'}")
    with CliRunner().isolation() as streams:
        assert run(["orders", "show", "1"]) == 1
        sys.stderr.flush()
        assert streams[1].getvalue().decode() == "Fel: Det finns ingen order nummer 1.\n"


def test_tables_show_names_as_typed(cli, monkeypatch):
    """A table's cells are text, not Rich markup: '[/bil]' neither vanishes nor stops the
    output, ':car:' stays words."""
    monkeypatch.setenv("COLUMNS", "250")  # every cell on one line
    name = "Nilsson [/bil] [ny] :car:"
    assert cli("customers", "add", "--name", name)[0] == 0
    assert cli("orders", "create", "--customer", "10001")[0] == 0
    for args in (("customers", "list"), ("orders", "list")):
        code, out, err = cli(*args)
        assert code == 0 and not err
        assert name in out


def test_the_tui_quits_with_the_collector_on_and_what_it_built_frozen(monkeypatch):
    """open_tui holds the collector off while the app starts. Once the app has quit (here,
    failed), the collector is on again, and what was built is frozen: the interpreter's
    collections on the way out do not walk it."""
    import gc
    from types import SimpleNamespace

    import verkstad.app
    from verkstad.cli.tui import open_tui

    class App:  # stands in for VerkstadApp
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def run(self) -> None:
            assert not gc.isenabled()
            raise RuntimeError("the app failed")

    monkeypatch.setattr(verkstad.app, "VerkstadApp", App)
    context = SimpleNamespace(db=None, actor=None, settings=SimpleNamespace(user="anna"))
    gc.unfreeze()
    try:
        with pytest.raises(RuntimeError):
            open_tui(context)  # type: ignore[arg-type]
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def _tree(command) -> object:  # type: ignore[no-untyped-def]
    """A command's shape: its help, its parameters and, in turn, its sub-commands."""
    return (
        command.help,
        [(p.name, tuple(getattr(p, "opts", ()))) for p in command.params],
        {name: _tree(sub) for name, sub in getattr(command, "commands", {}).items()},
    )


def test_each_command_built_from_its_own_modules_is_the_whole_trees():
    """A command line loads only the modules of the command it names (a faster CLI): each
    top-level command so built is the same as in the tree of every module, and every
    command of that tree has its modules named."""
    import typer.main

    from verkstad.cli.commands import COMMAND_MODULES, build_app

    whole = typer.main.get_command(build_app())
    assert set(COMMAND_MODULES) == set(whole.commands)  # type: ignore[attr-defined]
    for name, modules in COMMAND_MODULES.items():
        alone = typer.main.get_command(build_app(modules))
        assert _tree(alone.commands[name]) == _tree(whole.commands[name]), name  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["export", "csv"], "export"),
        (["--db", "sqlite:///x.db", "--user=anna", "orders", "list"], "orders"),
        (["--lang", "en", "--help"], "--help"),
        (["--db"], "--db"),  # missing its value: no command, so every module loads
        ([], None),
    ],
)
def test_the_command_word_is_the_first_argument_past_the_global_options(args, word):
    from verkstad.cli.commands import _command_word

    assert _command_word(args) == word
