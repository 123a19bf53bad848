"""The books' commands end to end through the real entry point."""

from __future__ import annotations

import csv
import io
import json

from verkstad.clock import today
from verkstad.ledger.sie import parse_sie


def ok(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 0, err
    return out


def test_post_credit_documents_and_exports(cli, tmp_path):
    ok(cli("company", "set", "--name", "Verkstad Åmål AB", "--org-number", "5566778899"))
    ok(cli("customers", "add", "--name", "Åsa Öberg", "--phone", "070-123 45 67"))
    ok(cli("orders", "create", "--customer", "10001"))
    ok(cli("orders", "add-line", "1001", "--desc", "Bromsbelägg", "--price", "1 199,20"))
    ok(cli("orders", "add-line", "1001", "--kind", "labour", "--desc", "Arbete", "--price", "1850"))
    ok(cli("orders", "complete", "1001"))
    code, _out, err = cli("orders", "post", "1001")
    assert code == 1 and "Payment method" in err
    ok(cli("orders", "set", "1001", "--payment-method", "FAKTURA"))
    posted = json.loads(ok(cli("orders", "post", "1001", "--format", "json")))
    assert posted["invoice_number"] == 1 and posted["total_minor"] == 381200
    assert posted["rows"][0] == {
        "account": "1510",
        "name": "Kundfordringar",
        "amount_minor": 381200,
    }
    ledger = json.loads(ok(cli("ledger", "list", "--format", "json")))
    assert ledger[0]["rows"][-1] == {
        "account": "3740",
        "name": "Öres- och kronutjämning",
        "amount_minor": -50,
    }
    assert (
        json.loads(ok(cli("ledger", "balance", "1510", "--format", "json")))["balance_minor"]
        == 381200
    )

    invoice = tmp_path / "f.pdf"
    ok(cli("invoice", "pdf", "1001", "-o", str(invoice)))
    assert invoice.read_bytes().startswith(b"%PDF")

    credit = json.loads(ok(cli("orders", "credit", "1001", "--reason", "fel", "--format", "json")))
    assert credit["number"] == 2 and credit["copy_order_number"] == 1002
    printed = tmp_path / "printed.pdf"
    ok(
        cli(
            "invoice", "print", "1001", "--credit", "--folder", str(tmp_path / "print"),
            "--command", f"cp {{file}} {printed}",
        )
    )  # fmt: skip
    assert printed.read_bytes().startswith(b"%PDF")
    assert (tmp_path / "print" / "credit-note-2.pdf").exists()

    sie_file = tmp_path / "export.si"
    day = today().isoformat()
    ok(cli("export", "sie", "--from", day, "--to", day, "-o", str(sie_file)))
    sie = parse_sie(sie_file.read_bytes())
    assert [len(v.rows) for v in sie.vouchers] == [5, 5]

    csv_file = tmp_path / "orders.csv"
    ok(cli("export", "csv", "orders", "--status", "KREDITERAD", "-o", str(csv_file)))
    rows = list(csv.reader(io.StringIO(csv_file.read_text("utf-8-sig")), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["1001"] and rows[1][5] == "3812,00"
    plain = ok(cli("export", "csv", "payments", "--dialect", "plain"))
    assert plain.splitlines()[0].startswith("id,reference,order_number")


def test_chart_settings_and_bad_input(cli, tmp_path):
    accounts = json.loads(ok(cli("ledger", "accounts", "--format", "json")))
    assert {"role": "payment.MOBIL", "account": "1931"}.items() <= accounts[0].items()
    ok(cli("ledger", "set-account", "payment.KORT", "1581", "--name", "Kortinlösen"))
    accounts = json.loads(ok(cli("ledger", "accounts", "--format", "json")))
    kort = next(a for a in accounts if a["role"] == "payment.KORT")
    assert (kort["account"], kort["name"]) == ("1581", "Kortinlösen")
    ok(cli("ledger", "set", "invoice.terms_days", "10"))
    code, _out, err = cli("ledger", "set", "invoice.terms_days", "ten")
    assert code == 1 and "Payment terms" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("a;b\n1;2\n")
    code, _out, err = cli("settlement", "import", str(bad))
    assert code == 1 and "header row" in err
    code, _out, err = cli("export", "sie", "--from", "2025-01-01", "--to", "2025-12-31")
    assert code == 1 and "name" in err
