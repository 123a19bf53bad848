"""Payment reports: totals per provider agree with the ledger, periods are Stockholm days,
weeks and months, and the scheduler writes each ended period once (catching up)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from freezegun import freeze_time
from sqlmodel import select

from tests.ledger.builders import paid_by_mobile
from tests.ledger.test_settlement_import import PAID_AT, movement, reference_of, settlement_file
from verkstad.config import ReportsSettings
from verkstad.ledger.journal import balances
from verkstad.ledger.posting import post_order
from verkstad.ledger.reports import payment_report, period_of, report_csv, write_due_reports
from verkstad.ledger.settlement import import_settlement
from verkstad.mpay.notify import OutboxMessage
from verkstad.sandbox.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "sandbox.db")
    yield store
    store.close()


def settled_order(db, admin, provider, store, paid_at: datetime = PAID_AT) -> None:
    with freeze_time(paid_at):
        number = paid_by_mobile(db, admin, provider)
        post_order(db, admin, number)
    movement(store, "CAPTURE", 381200, reference_of(db))
    import_settlement(db, admin, settlement_file(store), "resurs.csv")


def test_periods_are_days_iso_weeks_and_months():
    assert period_of("day", date(2025, 3, 30)) == period_of("day", date(2025, 3, 30))
    week = period_of("week", date(2025, 3, 16))  # a Sunday
    assert (week.first, week.last) == (date(2025, 3, 10), date(2025, 3, 16))
    month = period_of("month", date(2024, 2, 10))
    assert (month.first, month.last) == (date(2024, 2, 1), date(2024, 2, 29))
    assert period_of("month", date(2025, 12, 31)).following().first == date(2026, 1, 1)


def test_totals_per_provider_agree_with_the_ledger(db, admin, provider, store):
    settled_order(db, admin, provider, store)
    [paid_day] = payment_report(db, period_of("day", date(2025, 3, 14)))
    assert paid_day["provider"] == "resurs"
    assert (paid_day["payments"], paid_day["paid"], paid_day["settled"]) == (1, 381200, 0)
    [payout_day] = payment_report(db, period_of("day", date(2025, 3, 17)))
    assert payout_day["payments"] == 0
    with db.read() as s:
        books = balances(s, date(2025, 3, 17), date(2025, 3, 17))  # the payout's verification
    assert payout_day["settled"] == -books["1931"] == 381200
    assert payout_day["fees"] + payout_day["fee_vat"] == books["6064"] + books.get("2641", 0)
    assert payout_day["paid_out"] == books["1930"] == 377769
    [month] = payment_report(db, period_of("month", date(2025, 3, 1)))
    assert (month["paid"], month["settled"], month["paid_out"]) == (381200, 381200, 377769)
    [paid_week] = payment_report(db, period_of("week", date(2025, 3, 10)))
    [payout_week] = payment_report(db, period_of("week", date(2025, 3, 20)))  # Monday the 17th
    assert (paid_week["paid"], paid_week["settled"]) == (381200, 0)
    assert (payout_week["paid"], payout_week["settled"]) == (0, 381200)
    assert payment_report(db, period_of("month", date(2025, 4, 1))) == []


def test_a_payment_after_midnight_in_stockholm_is_the_next_days(db, admin, provider, store):
    late = datetime(2025, 3, 14, 23, 30, tzinfo=UTC)  # 00:30 on the 15th in Stockholm
    settled_order(db, admin, provider, store, late)
    assert payment_report(db, period_of("day", date(2025, 3, 14))) == []
    [row] = payment_report(db, period_of("day", date(2025, 3, 15)))
    assert row["paid"] == 381200


def test_the_csv_is_swedish_excel(db, admin, provider, store):
    settled_order(db, admin, provider, store)
    text = report_csv(db, period_of("month", date(2025, 3, 1))).decode("utf-8")
    header, row = text.lstrip("\ufeff").splitlines()
    assert header.startswith("Provider;Currency;Payments;Paid;")
    assert row.startswith("resurs;SEK;1;3812,00;0;0,00;3812,00;")


def test_each_ended_period_is_written_once_and_missed_ones_caught_up(db, admin, tmp_path):
    settings = ReportsSettings(periods=["day"], email="bokforing@example.se")
    with freeze_time(datetime(2025, 3, 18, 9, tzinfo=UTC)):
        assert [p.name for p in write_due_reports(db, settings, tmp_path)] == [
            "payments-day-2025-03-17.csv"
        ]
        assert write_due_reports(db, settings, tmp_path) == []
    with freeze_time(datetime(2025, 3, 21, 9, tzinfo=UTC)):  # down for three days
        written = write_due_reports(db, settings, tmp_path)
    assert [p.name for p in written] == [f"payments-day-2025-03-{d}.csv" for d in (18, 19, 20)]
    with db.read() as s:
        mails = s.exec(select(OutboxMessage)).all()
    assert [m.dedupe_key for m in mails] == [f"report:day:2025-03-{d}" for d in (17, 18, 19, 20)]
    [attachment] = mails[-1].attachments
    assert attachment.content == (tmp_path / "payments-day-2025-03-20.csv").read_bytes()
