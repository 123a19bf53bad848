"""CSV exports of the order list and the payments list, streamed row by row.

``excel`` (the default) is what Swedish Excel opens as it is: UTF-8 with a
BOM, ``;`` between cells, decimal comma, local times and translated headers.
``plain`` is RFC 4180: ``,``, CRLF, decimal point, ISO 8601 UTC times and
the stable column keys as headers. In both, a text cell that begins with
= + - @, a tab or a carriage return gets a leading ``'`` so that no
spreadsheet runs it as a formula (CSV injection); numbers are never touched.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import func
from sqlmodel import col, select

from verkstad.clock import as_utc, local, now
from verkstad.db import Database
from verkstad.files import path_in
from verkstad.i18n import N_, _
from verkstad.mpay.models import PaymentRequest
from verkstad.mpay.payments import PaymentFilter
from verkstad.orders.models import Customer, Order
from verkstad.orders.queries import OrderFilter, stream_orders
from verkstad.users import Actor

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Dialect(StrEnum):
    excel = "excel"
    plain = "plain"


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # N_() msgid, translated when written
    kind: str  # text | int | money | time | bool


def neutralise(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(kind: str, value: Any, dialect: Dialect) -> str:
    if value is None:
        return ""
    excel = dialect is Dialect.excel
    if kind == "money":
        minor = int(value)
        text = f"{'-' if minor < 0 else ''}{abs(minor) // 100}.{abs(minor) % 100:02d}"
        return text.replace(".", ",") if excel else text
    if kind == "int":
        return str(int(value))
    if kind == "bool":
        return (_("yes") if value else _("no")) if excel else ("true" if value else "false")
    if kind == "time":
        assert isinstance(value, datetime)
        if excel:
            return local(value).strftime("%Y-%m-%d %H:%M:%S")
        return value.isoformat().replace("+00:00", "Z")
    return neutralise(str(value))


def write_csv(
    out: TextIO,
    columns: list[Column],
    rows: Iterable[dict[str, Any]],
    dialect: Dialect = Dialect.excel,
    on_row: Callable[[], None] | None = None,
) -> int:
    """Write the header and every row as it comes; returns the number of rows."""
    excel = dialect is Dialect.excel
    if excel:
        out.write("\ufeff")
    writer = csv.writer(out, delimiter=";" if excel else ",", lineterminator="\r\n")
    writer.writerow([neutralise(_(c.label)) if excel else c.key for c in columns])
    count = 0
    for row in rows:
        writer.writerow([cell(c.kind, row.get(c.key), dialect) for c in columns])
        count += 1
        if on_row is not None:
            on_row()
    return count


# ---------------------------------------------------------------- orders

ORDER_COLUMNS = [
    Column("number", N_("No."), "int"),
    Column("customer_number", N_("Cust. no."), "int"),
    Column("customer_name", N_("Customer name"), "text"),
    Column("reg_number", N_("Reg. no."), "text"),
    Column("status", N_("Status"), "text"),
    Column("total", N_("Amount"), "money"),
    Column("currency", N_("Currency"), "text"),
    Column("payment_method", N_("Payment method"), "text"),
    Column("payment_received", N_("Payment received"), "bool"),
    Column("received_at", N_("Time payment was received"), "time"),
    Column("created_at", N_("Created"), "time"),
    Column("invoice_number", N_("Invoice no."), "int"),
]


def export_orders(
    db: Database,
    out: TextIO,
    flt: OrderFilter | None = None,
    dialect: Dialect = Dialect.excel,
    sort: str = "number",
    descending: bool = False,
    on_row: Callable[[], None] | None = None,
) -> int:
    """The order list with the filters of ``orders list``, streamed from one query in
    batches (memory stays flat for a million orders). Byte for byte what ``write_csv``
    writes with ``cell``, made faster by knowing the columns."""
    excel = dialect is Dialect.excel
    if excel:
        out.write("\ufeff")
    writer = csv.writer(out, delimiter=";" if excel else ",", lineterminator="\r\n")
    writer.writerow([neutralise(_(c.label)) if excel else c.key for c in ORDER_COLUMNS])
    line = _order_line(dialect)
    count = 0
    for batch in stream_orders(db, flt, sort, descending):
        if on_row is None:
            out.write("".join(map(line, batch)))
        else:
            for row in batch:
                out.write(line(row))
                on_row()
        count += len(batch)
    return count


def _order_line(dialect: Dialect) -> Callable[[tuple[Any, ...]], str]:
    """One order row as the database returned it (OrderRow's layout) as its CSV line.

    The export's hot loop: what ``cell`` makes of each value and how ``csv`` quotes
    it, specialised per column. Only names and registrations are free text (status,
    currency and payment method are codes: never a formula, a delimiter or a quote).
    A time is formatted from its stored text: the workshop's local hour comes from
    a table made once per UTC hour (minutes and seconds are the same in a zone whose
    offset is whole hours, as the Nordic ones are; other times go through ``cell``).
    """
    excel = dialect is Dialect.excel
    sep = ";" if excel else ","
    decimal = "," if excel else "."
    formula = frozenset(FORMULA_STARTS)
    special = re.compile(f'[{sep}"\r\n]')

    def field(text: str) -> str:
        if text[:1] in formula:
            text = "'" + text
        if special.search(text) is None:
            return text
        return '"' + text.replace('"', '""') + '"'

    yes, no = (field(_("yes")), field(_("no"))) if excel else ("true", "false")

    def slow_time(value: str | datetime) -> str:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return cell("time", as_utc(moment), dialect)

    class LocalHours(dict[str, str | None]):
        """UTC hour ("2026-03-05 13") → local hour ("2026-03-05 14"), or None where
        the local time is not the UTC time shifted by whole hours."""

        def __missing__(self, utc_hour: str) -> str | None:
            start = datetime.fromisoformat(utc_hour + ":00:00").replace(tzinfo=UTC)
            first, last = local(start), local(start + timedelta(minutes=59, seconds=59))
            offset = first.utcoffset()
            whole = offset is not None and not offset % timedelta(hours=1)
            self[utc_hour] = hour = (
                first.strftime("%Y-%m-%d %H") if whole and last.utcoffset() == offset else None
            )
            return hour

    hours = LocalHours()

    def time(value: str | datetime) -> str:
        if value.__class__ is not str:  # PostgreSQL: a naive UTC datetime
            value = value.isoformat(" ", "microseconds")  # type: ignore[union-attr]
        if len(value) != 26 or value[19] != ".":  # not the form SQLAlchemy stores
            return slow_time(value)
        if excel:
            hour = hours[value[:13]]
            return hour + value[13:19] if hour is not None else slow_time(value)
        if value.endswith(".000000"):
            return f"{value[:10]}T{value[11:19]}Z"
        return f"{value[:10]}T{value[11:]}Z"

    def amount(minor: int) -> str:
        if minor < 0:
            return f"-{-minor // 100}{decimal}{-minor % 100:02d}"
        return f"{minor // 100}{decimal}{minor % 100:02d}"

    class Amounts(dict[int, str]):
        def __missing__(self, minor: int) -> str:
            if len(self) > 100_000:  # many distinct amounts: keep memory flat
                self.clear()
            self[minor] = text = amount(minor)
            return text

    amounts = Amounts()
    special_search = special.search

    def line(r: tuple[Any, ...]) -> str:
        # 0 id, 1 number, 2 customer_number, 3 customer_name, 4 reg_number, 5 status,
        # 6 total_minor, 7 currency, 8 payment_method, 9 payment_received,
        # 10 received_at, 11 created_at, 12 invoice_number
        _id, number, customer, name, reg, status, total, currency, method, paid, got, made, inv = r
        if name[:1] in formula or special_search(name):
            name = field(name)
        if reg is None:
            reg = ""
        elif reg[:1] in formula or special_search(reg):
            reg = field(reg)
        if made.__class__ is str and excel and len(made) == 26:  # the common case, inline
            hour = hours[made[:13]]
            made = hour + made[13:19] if hour is not None else time(made)
        else:
            made = time(made)
        return (
            f"{number}{sep}{customer}{sep}{name}{sep}{reg}{sep}{status}{sep}{amounts[total]}{sep}"
            f"{currency}{sep}{method or ''}{sep}{yes if paid else no}{sep}"
            f"{'' if got is None else time(got)}{sep}{made}{sep}{'' if inv is None else inv}\r\n"
        )

    return line


# ---------------------------------------------------------------- payments

PAYMENT_COLUMNS = [
    Column("id", N_("Id"), "int"),
    Column("reference", N_("Reference"), "text"),
    Column("order_number", N_("Order"), "int"),
    Column("customer_number", N_("Cust. no."), "int"),
    Column("customer_name", N_("Customer name"), "text"),
    Column("provider", N_("Provider"), "text"),
    Column("state", N_("Status"), "text"),
    Column("amount", N_("Amount"), "money"),
    Column("captured", N_("Captured"), "money"),
    Column("refunded", N_("Refunded"), "money"),
    Column("currency", N_("Currency"), "text"),
    Column("method", N_("Paid with"), "text"),
    Column("created_by", N_("Sent by"), "text"),
    Column("created_at", N_("Created"), "time"),
    Column("paid_at", N_("Paid"), "time"),
    Column("consolidated", N_("Consolidated"), "bool"),
]


def _payment_conditions(actor: Actor, f: PaymentFilter) -> list[Any]:
    """The payments list's filters (verkstad.mpay.payments.list_payments), as SQL."""
    where: list[Any] = []
    if f.mine:
        where.append(col(PaymentRequest.created_by) == actor.name)
    if f.states:
        where.append(col(PaymentRequest.state).in_([s.value for s in f.states]))
    if f.provider:
        where.append(col(PaymentRequest.provider) == f.provider)
    if f.customer_number is not None:
        where.append(col(Customer.number) == f.customer_number)
    if f.created_from:
        where.append(col(PaymentRequest.created_at) >= f.created_from)
    if f.created_to:
        where.append(col(PaymentRequest.created_at) < f.created_to)
    if f.unread_paid:
        where.append(col(PaymentRequest.state) == "PAID")
        where.append(col(PaymentRequest.read_at).is_(None))
    return where


def _payment_row(
    req: PaymentRequest, customer_number: int, customer_name: str, order_number: int | None
) -> dict[str, Any]:
    return {
        "id": req.id,
        "reference": req.reference,
        "order_number": order_number,
        "customer_number": customer_number,
        "customer_name": customer_name,
        "provider": req.provider,
        "state": req.state,
        "amount": req.amount_minor,
        "captured": req.captured_minor,
        "refunded": req.refunded_minor,
        "currency": req.currency,
        "method": req.method,
        "created_by": req.created_by,
        "created_at": req.created_at,
        "paid_at": req.paid_at,
        "consolidated": req.consolidated_at is not None,
    }


def iter_payments(
    db: Database, actor: Actor, flt: PaymentFilter | None = None, batch: int = 2000
) -> Iterator[dict[str, Any]]:
    """Every matching payment, newest first, batch by batch (constant memory)."""
    where = _payment_conditions(actor, flt or PaymentFilter())
    after: int | None = None
    while True:
        query = (
            select(PaymentRequest, Customer.number, Customer.name, Order.number)
            .join(Customer, col(Customer.id) == PaymentRequest.customer_id)
            .outerjoin(Order, col(Order.id) == PaymentRequest.order_id)
            .where(*where)
        )
        if after is not None:
            query = query.where(col(PaymentRequest.id) < after)
        with db.read() as s:
            found = [
                _payment_row(*r)
                for r in s.exec(query.order_by(col(PaymentRequest.id).desc()).limit(batch))
            ]
        yield from found
        if len(found) < batch:
            return
        after = found[-1]["id"]


def payment_count(db: Database, actor: Actor, flt: PaymentFilter | None = None) -> int:
    query = (
        select(func.count())
        .select_from(PaymentRequest)
        .join(Customer, col(Customer.id) == PaymentRequest.customer_id)
        .where(*_payment_conditions(actor, flt or PaymentFilter()))
    )
    with db.read() as s:
        return int(s.exec(query).one())


def export_payments(
    db: Database,
    actor: Actor,
    out: TextIO,
    flt: PaymentFilter | None = None,
    dialect: Dialect = Dialect.excel,
    on_row: Callable[[], None] | None = None,
) -> int:
    return write_csv(out, PAYMENT_COLUMNS, iter_payments(db, actor, flt), dialect, on_row)


def export_to_folder(
    db: Database,
    actor: Actor,
    folder: Path,
    orders: OrderFilter | None = None,
    payments: PaymentFilter | None = None,
    sort: str = "number",
    descending: bool = False,
) -> tuple[Path, int]:
    """The order list (or, given ``payments``, the payments list) as a Swedish Excel file
    named by the local time, in ``folder`` (the TUI lists' export key)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = _("payments") if payments is not None else _("orders")
    path = path_in(folder, f"{stem}-{local(now()):%Y%m%d-%H%M%S}.csv")  # (a translated word)
    with path.open("w", encoding="utf-8", newline="") as out:
        if payments is not None:
            count = export_payments(db, actor, out, payments)
        else:
            count = export_orders(db, out, orders, Dialect.excel, sort, descending)
    return path, count
