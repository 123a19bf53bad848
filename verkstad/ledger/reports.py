"""Payment reports per provider for a day, an ISO week or a month (Europe/Stockholm days).

Per provider and currency: the payments received in the period (when the
customer paid), the refunds made (when the provider confirmed them), and what
the provider's payouts settled, with their fees — from the settlement imports
booked in the period, so fees appear once they are settled. Written as
Swedish Excel CSV (``verkstad.ledger.csv_export``); the scheduler writes each
period's report once after it has ended and e-mails it to the bookkeeper.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from verkstad.clock import local, local_day_end, local_day_start, now
from verkstad.config import ReportsSettings
from verkstad.db import Database
from verkstad.errors import ValidationError
from verkstad.files import path_in
from verkstad.i18n import N_, _
from verkstad.ledger.csv_export import Column, write_csv
from verkstad.ledger.models import PaymentReport, SettledPayment, Verification
from verkstad.mpay.models import PaymentOperation, PaymentRequest
from verkstad.mpay.notify import queue


@dataclass(frozen=True)
class Period:
    kind: str  # day | week | month
    first: date
    last: date  # inclusive

    def following(self) -> Period:
        return period_of(self.kind, self.last + timedelta(days=1))

    def preceding(self) -> Period:
        return period_of(self.kind, self.first - timedelta(days=1))

    @property
    def file_name(self) -> str:
        return _("payments-{period}-{date}.csv").format(period=self.kind, date=self.first)


def period_of(kind: str, day: date) -> Period:
    """The day, ISO week (Monday–Sunday) or calendar month that ``day`` lies in."""
    if kind == "day":
        return Period(kind, day, day)
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period(kind, monday, monday + timedelta(days=6))
    if kind == "month":
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return Period(kind, first, following - timedelta(days=1))
    raise ValidationError(
        _("Period"), _("must be one of: {choices}").format(choices="day, week, month")
    )


COLUMNS = [
    Column("provider", N_("Provider"), "text"),
    Column("currency", N_("Currency"), "text"),
    Column("payments", N_("Payments"), "int"),
    Column("paid", N_("Paid"), "money"),
    Column("refunds", N_("Refunds"), "int"),
    Column("refunded", N_("Refunded"), "money"),
    Column("settled", N_("Settled"), "money"),
    Column("fees", N_("Fees"), "money"),
    Column("fee_vat", N_("VAT on fees"), "money"),
    Column("paid_out", N_("Paid out"), "money"),
]
_ZERO = {c.key: 0 for c in COLUMNS[2:]}


def _received(s: Session, period: Period) -> Iterator[tuple[str, str, int, int]]:
    paid_at = col(PaymentRequest.paid_at)
    query = (
        select(
            PaymentRequest.provider,
            PaymentRequest.currency,
            func.count(),
            func.sum(PaymentRequest.captured_minor),
        )
        .where(paid_at >= local_day_start(period.first), paid_at < local_day_end(period.last))
        .group_by(PaymentRequest.provider, PaymentRequest.currency)
    )
    yield from s.exec(query)


def _refunds(s: Session, period: Period) -> Iterator[tuple[str, str, int, int]]:
    done_at = col(PaymentOperation.done_at)
    query = (
        select(
            PaymentRequest.provider,
            PaymentRequest.currency,
            func.count(),
            func.sum(PaymentOperation.amount_minor),
        )
        .join(PaymentRequest, col(PaymentRequest.id) == PaymentOperation.request_id)
        .where(
            PaymentOperation.kind == "refund",
            PaymentOperation.state == "DONE",
            done_at >= local_day_start(period.first),
            done_at < local_day_end(period.last),
        )
        .group_by(PaymentRequest.provider, PaymentRequest.currency)
    )
    yield from s.exec(query)


def _settled(s: Session, period: Period) -> Iterator[Any]:
    booked_on = col(Verification.booked_on)
    query = (
        sa_select(
            col(SettledPayment.provider),
            col(PaymentRequest.currency),
            func.sum(SettledPayment.gross_minor),
            func.sum(SettledPayment.fee_minor),
            func.sum(SettledPayment.fee_vat_minor),
            func.sum(SettledPayment.net_minor),
        )
        .join(Verification, col(Verification.id) == SettledPayment.verification_id)
        .join(PaymentRequest, col(PaymentRequest.id) == SettledPayment.payment_request_id)
        .where(booked_on >= period.first, booked_on <= period.last)
        .group_by(SettledPayment.provider, PaymentRequest.currency)
    )  # six columns: more than sqlmodel's select is typed for
    yield from s.connection().execute(query)


def payment_report(db: Database, period: Period) -> list[dict[str, Any]]:
    """One row per provider and currency with anything in the period, by provider."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(provider: str, currency: str) -> dict[str, Any]:
        return rows.setdefault(
            (provider, currency), {"provider": provider, "currency": currency, **_ZERO}
        )

    with db.read() as s:
        for provider, currency, count, paid in _received(s, period):
            row(provider, currency).update(payments=count, paid=int(paid or 0))
        for provider, currency, count, refunded in _refunds(s, period):
            row(provider, currency).update(refunds=count, refunded=int(refunded or 0))
        for provider, currency, gross, fee, fee_vat, net in _settled(s, period):
            row(provider, currency).update(
                settled=int(gross), fees=int(fee), fee_vat=int(fee_vat), paid_out=int(net)
            )
    return [rows[k] for k in sorted(rows)]


def report_csv(db: Database, period: Period) -> bytes:
    """The report as Swedish Excel opens it (UTF-8 with BOM, ``;``, decimal comma)."""
    out = io.StringIO(newline="")
    write_csv(out, COLUMNS, payment_report(db, period))
    return out.getvalue().encode("utf-8")


def _save(folder: Path, name: str, data: bytes) -> Path:
    """Written whole or not at all (a crash leaves no half file), directly in ``folder``
    (the name is a translated pattern: see verkstad.files)."""
    path = path_in(folder, name)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{path.name}.part"
    temp.write_bytes(data)
    temp.replace(path)
    return path


def _next_to_write(s: Session, kind: str, current: Period) -> Period:
    """After the last report written (catching up after downtime); at first the last ended."""
    last = s.exec(
        select(func.max(PaymentReport.starts_on)).where(PaymentReport.period == kind)
    ).one()
    return period_of(kind, last).following() if last else current.preceding()


def write_due_reports(db: Database, settings: ReportsSettings, folder: Path) -> list[Path]:
    """Write (and e-mail) every ended period's report not yet written; the scheduler's job."""
    written = []
    today = local(now()).date()
    for kind in settings.periods:
        current = period_of(kind, today)
        with db.read() as s:
            period = _next_to_write(s, kind, current)
        while period.first < current.first:
            data = report_csv(db, period)
            path = _save(folder, period.file_name, data)  # the same bytes if written twice
            try:
                with db.session() as s:
                    s.add(
                        PaymentReport(
                            period=kind,
                            starts_on=period.first,
                            file_name=path.name,
                            emailed_to=settings.email,
                        )
                    )
                    if settings.email:
                        queue(
                            s,
                            "email",
                            settings.email,
                            _("The payment report for {first} – {last} is attached.").format(
                                first=period.first, last=period.last
                            ),
                            f"report:{kind}:{period.first}",
                            _("Payment report {first} – {last}").format(
                                first=period.first, last=period.last
                            ),
                            attachments=[(path.name, "text/csv", data)],
                        )
                written.append(path)
            except IntegrityError:
                pass  # another scheduler wrote it at the same moment
            period = period.following()
    return written
