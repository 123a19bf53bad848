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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import func
from sqlmodel import col, select

from verkstad.clock import local, now
from verkstad.db import Database
from verkstad.i18n import N_, _
from verkstad.mpay.models import PaymentRequest
from verkstad.mpay.payments import PaymentFilter
from verkstad.orders.models import Customer, Order
from verkstad.orders.queries import OrderFilter, iter_orders
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
    """The order list with the filters of ``orders list`` (keyset pages: constant memory)."""
    rows = ({**r.__dict__, "total": r.total_minor} for r in iter_orders(db, flt, sort, descending))
    return write_csv(out, ORDER_COLUMNS, rows, dialect, on_row)


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
    path = folder / f"{stem}-{local(now()):%Y%m%d-%H%M%S}.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        if payments is not None:
            count = export_payments(db, actor, out, payments)
        else:
            count = export_orders(db, out, orders, Dialect.excel, sort, descending)
    return path, count
