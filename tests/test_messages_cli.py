"""verkstad invoice email and verkstad templates: the same services and rules as the TUI."""

import pytest

from tests.ledger.builders import klart
from verkstad.db import Database
from verkstad.ledger.posting import post_order
from verkstad.users import Actor, Role


@pytest.fixture
def cli_and_db(cli, tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    db.upgrade()
    yield cli, db
    db.dispose()


def test_invoice_email_preview_then_send_once(cli_and_db):
    invoke, db = cli_and_db
    admin = Actor("admin", Role.ADMIN)
    order = klart(db, admin)
    post_order(db, admin, order)
    code, out, _err = invoke("invoice", "email", str(order), "--preview")
    assert code == 0 and "To: anna@example.se" in out and "faktura-1.pdf" in out
    code, _out, err = invoke("invoice", "email", str(order))
    assert code == 0 and "queued for e-mail to anna@example.se" in err + _out
    code, out, err = invoke("invoice", "email", str(order))
    assert "already been e-mailed" in out + err


def test_templates_set_show_list_and_refusal(cli_and_db):
    invoke, _db = cli_and_db
    args = ("--kind", "invoice_email", "--lang", "nb", "--category", "service")
    code, _out, err = invoke("templates", "set", *args, "--subject", "Faktura", "--body", "{belop}")
    assert code == 1 and "Text: unknown placeholder {belop}" in err
    set_ok = invoke("templates", "set", *args, "--subject", "Faktura", "--body", "Sum {amount}")
    assert set_ok[0] == 0, set_ok[2]
    code, out, _err = invoke("templates", "show", *args)
    assert code == 0 and "Sum {amount}" in out
    code, out, _err = invoke("templates", "list")
    assert "invoice_email   nb  service  own" in out
