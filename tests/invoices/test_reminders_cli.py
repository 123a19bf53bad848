"""invoice paid, reminders due/send and report payments through the real entry point."""

from __future__ import annotations

from verkstad.clock import today


def test_an_invoice_paid_on_a_date_is_booked_and_reported(cli, tmp_path):
    assert cli("customers", "add", "--name", "Anna Andersson", "--phone", "070-123 45 67")[0] == 0
    assert cli("orders", "create", "--customer", "10001")[0] == 0
    assert cli("orders", "add-line", "1001", "--desc", "Arbete", "--price", "1 000")[0] == 0
    assert cli("orders", "complete", "1001")[0] == 0
    assert cli("orders", "set", "1001", "--payment-method", "FAKTURA")[0] == 0
    assert cli("orders", "post", "1001")[0] == 0
    assert cli("reminders", "due")[0] == 0
    day = today().isoformat()
    code, out, err = cli("invoice", "paid", "1001", "--at", day)
    assert code == 0, err
    assert "Invoice 1 is paid" in out
    code, _out, err = cli("invoice", "paid", "1001")
    assert code == 1 and "already paid" in err
    report = tmp_path / "r.csv"
    code, _out, err = cli(
        "report", "payments", "--period", "week", "--date", day, "-o", str(report)
    )
    assert code == 0, err
    assert report.read_bytes().startswith("\ufeff".encode() + b"Provider;")
    assert cli("report", "payments", "--period", "year")[0] == 1
