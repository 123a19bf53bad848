"""The order list ("Verkstadslista"): filters, sort by any column, keyset pages.

Paging is by keyset on (sort column, id), never OFFSET, so a page deep in a
million orders costs what the first one does and stays stable while orders
are added. NULLs sort after every value (and first when descending, so a
descending list is exactly the ascending one reversed); a nullable sort
column is read in two index-friendly phases, values then NULLs.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    tuple_,
    type_coerce,
)

from verkstad.db import Database
from verkstad.errors import ValidationError
from verkstad.i18n import N_, _
from verkstad.orders.models import Customer, Order, Vehicle
from verkstad.orders.status import OrderStatus, PaymentMethod

ORDERS: Table = Order.__table__  # type: ignore[attr-defined]
CUSTOMERS: Table = Customer.__table__  # type: ignore[attr-defined]
VEHICLES: Table = Vehicle.__table__  # type: ignore[attr-defined]
o, cu, ve = ORDERS.c, CUSTOMERS.c, VEHICLES.c

# Every column the list can show and sort by, with its label ("Visa kolumn…").
COLUMNS: dict[str, tuple[ColumnElement[Any], str, bool]] = {
    # key: (SQL column, label, nullable)
    "number": (o.number, N_("No."), False),
    "customer_number": (cu.number, N_("Cust. no."), False),
    "customer_name": (cu.name, N_("Customer name"), False),
    "reg_number": (ve.reg_number, N_("Reg. no."), True),
    "status": (o.status, N_("Status"), False),
    "total": (o.total_minor, N_("Amount"), False),
    "payment_method": (o.payment_method, N_("Payment method"), True),
    "payment_received": (o.payment_received, N_("Payment received"), False),
    "received_at": (o.payment_received_at, N_("Time payment was received"), True),
    "created_at": (o.created_at, N_("Created"), False),
    "invoice_number": (o.invoice_number, N_("Invoice no."), True),
}


@dataclass(frozen=True)
class OrderFilter:
    statuses: tuple[OrderStatus, ...] = ()
    customer_number: int | None = None
    text: str = ""
    received: bool | None = None
    received_from: datetime | None = None  # inclusive, UTC
    received_to: datetime | None = None  # exclusive, UTC
    created_from: datetime | None = None
    created_to: datetime | None = None
    payment_method: PaymentMethod | None = None


@dataclass(frozen=True)
class OrderRow:
    id: int
    number: int
    customer_number: int
    customer_name: str
    reg_number: str | None
    status: str
    total_minor: int
    currency: str
    payment_method: str | None
    payment_received: bool
    received_at: datetime | None
    created_at: datetime
    invoice_number: int | None

    def to_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat().replace("+00:00", "Z") if t else None

        data = dict(self.__dict__)
        del data["id"]
        data["received_at"], data["created_at"] = iso(self.received_at), iso(self.created_at)
        return data


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the sort value and the order id of its last row."""

    value: Any
    id: int


@dataclass(frozen=True)
class Page:
    rows: list[OrderRow]
    next: Cursor | None  # None: this was the last page


_SELECT = (
    o.id,
    o.number,
    cu.number,
    cu.name,
    ve.reg_number,
    o.status,
    o.total_minor,
    o.currency,
    o.payment_method,
    o.payment_received,
    # Times are read raw and converted in _row (much cheaper than the generic type
    # processing, which dominated the list's cost).
    type_coerce(o.payment_received_at, String),
    type_coerce(o.created_at, String),
    o.invoice_number,
)


def _utc(value: str | datetime | None) -> datetime | None:
    """A stored UTC time (SQLite: text, PostgreSQL: naive datetime) as aware UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC)


def _row(r: Any) -> OrderRow:
    created = _utc(r[11])
    assert created is not None
    id_, number, cust_no, name, reg, status, total, currency, method = r[:9]
    return OrderRow(
        id_,
        number,
        cust_no,
        name,
        reg,
        status,
        total,
        currency,
        method,
        bool(r[9]),
        _utc(r[10]),
        created,
        r[12],
    )


def _base() -> Select[Any]:
    joined = ORDERS.join(CUSTOMERS, cu.id == o.customer_id).outerjoin(
        VEHICLES, ve.id == o.vehicle_id
    )
    return select(*_SELECT).select_from(joined)


def _conditions(f: OrderFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.statuses:
        where.append(o.status.in_([s.value for s in f.statuses]))
    if f.customer_number is not None:
        where.append(
            o.customer_id.in_(select(cu.id).where(cu.number == f.customer_number).scalar_subquery())
        )
    if f.received is not None:
        where.append(o.payment_received.is_(f.received))
    if f.received_from is not None:
        where.append(o.payment_received_at >= f.received_from)
    if f.received_to is not None:
        where.append(o.payment_received_at < f.received_to)
    if f.created_from is not None:
        where.append(o.created_at >= f.created_from)
    if f.created_to is not None:
        where.append(o.created_at < f.created_to)
    if f.payment_method is not None:
        where.append(o.payment_method == f.payment_method.value)
    term = unicodedata.normalize("NFC", f.text).strip()
    if term:
        matches: list[ColumnElement[bool]] = [
            o.customer_id.in_(
                select(cu.id).where(cu.name.ilike(f"%{_escape(term)}%", escape="\\"))
            ),
        ]
        reg = "".join(c for c in term.upper() if c.isalnum())
        if reg:
            matches.append(
                o.vehicle_id.in_(
                    select(ve.id).where(ve.reg_number.like(f"{_escape(reg)}%", escape="\\"))
                )
            )
        if term.isdigit() and len(term) < 12:
            matches.append(o.number == int(term))
            matches.append(o.customer_id.in_(select(cu.id).where(cu.number == int(term))))
        where.append(or_(*matches))
    return where


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def sort_key(name: str) -> str:
    if name not in COLUMNS:
        raise ValidationError(
            _("Sort"), _("must be one of: {choices}").format(choices=", ".join(COLUMNS))
        )
    return name


def _phase(
    conditions: list[ColumnElement[bool]],
    column: ColumnElement[Any],
    nulls: bool,
    descending: bool,
    after: Cursor | None,
    limit: int,
) -> Select[Any]:
    """One index-friendly phase: the rows whose sort value is NULL, or those with a value."""
    where = list(conditions)
    if nulls:
        where.append(column.is_(None))
        order = [o.id.desc() if descending else o.id.asc()]
        if after is not None:
            where.append(o.id < after.id if descending else o.id > after.id)
    else:
        where.append(column.is_not(None))
        order = [column.desc(), o.id.desc()] if descending else [column.asc(), o.id.asc()]
        if after is not None:
            value = bindparam(None, after.value, type_=column.type)  # keep the UTC type
            key, at = tuple_(column, o.id), tuple_(value, after.id)
            where.append(key < at if descending else key > at)
    return _base().where(and_(*where)).order_by(*order).limit(limit)


def _plan(nullable: bool, descending: bool, after: Cursor | None) -> list[tuple[bool, bool]]:
    """The phases to read, as (is the NULL phase, resume from the cursor)."""
    phases = [False, True] if not descending else [True, False]
    if not nullable:
        return [(False, True)]
    if after is None:
        return [(p, True) for p in phases]
    start = phases.index(after.value is None)
    return [(p, i == start) for i, p in enumerate(phases) if i >= start]


def list_orders(
    db: Database,
    flt: OrderFilter | None = None,
    sort: str = "number",
    descending: bool = False,
    after: Cursor | None = None,
    limit: int = 50,
) -> Page:
    """One page of the list, starting after ``after`` (None: the first page)."""
    column, _label, nullable = COLUMNS[sort_key(sort)]
    conditions = _conditions(flt or OrderFilter())
    rows: list[OrderRow] = []
    with db.read_connection() as conn:
        for nulls, resume in _plan(nullable, descending, after):
            want = limit + 1 - len(rows)
            if want <= 0:
                break
            query = _phase(conditions, column, nulls, descending, after if resume else None, want)
            rows.extend(_row(r) for r in conn.execute(query))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = Cursor(_sort_value(rows[-1], sort), rows[-1].id) if more and rows else None
    return Page(rows, next_cursor)


def _sort_value(row: OrderRow, sort: str) -> Any:
    return getattr(row, "total_minor" if sort == "total" else sort)


def iter_orders(
    db: Database,
    flt: OrderFilter | None = None,
    sort: str = "number",
    descending: bool = False,
    batch: int = 2000,
) -> Iterator[OrderRow]:
    """Every matching order, page by page (constant memory, for exports)."""
    after: Cursor | None = None
    while True:
        page = list_orders(db, flt, sort, descending, after, batch)
        yield from page.rows
        if page.next is None:
            return
        after = page.next


def count_orders(db: Database, flt: OrderFilter | None = None) -> int:
    conditions = _conditions(flt or OrderFilter())
    query = select(func.count()).select_from(ORDERS)
    if conditions:
        query = query.where(and_(*conditions))
    with db.read() as s:
        return int(s.execute(query).scalar_one())
