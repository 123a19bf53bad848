"""The order list ("Verkstadslista"): filters, sort by any column, keyset pages.

Paging is by keyset on (sort column, id), never OFFSET, so a page deep in a
million orders costs what the first one does and stays stable while orders
are added. NULLs sort after every value (and first when descending, so a
descending list is exactly the ascending one reversed); a nullable sort
column is read in two index-friendly phases, values then NULLs.

The list is the counter's hot path, so it costs what the raw query costs: the
SQL of each filter *shape* (which filters are set, the sort, the phase) is
written once and then run on a plain DB-API connection with only the values
bound, and each row stays the driver's tuple (``OrderRow`` reads its fields
from it, converting a time or a flag only when it is read). It is plain SQL,
not SQLAlchemy's: the counter's first screen shows this list before
SQLAlchemy is loaded.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache, partial
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from verkstad.db import Database, stored_time
from verkstad.errors import ValidationError
from verkstad.i18n import N_, _
from verkstad.orders.status import OrderStatus, PaymentMethod

# Every column the list can show and sort by, with its label ("Visa kolumn…").
COLUMNS: dict[str, tuple[str, str, bool]] = {
    # key: (SQL column, label, nullable)
    "number": ("orders.number", N_("No."), False),
    "customer_number": ("customers.number", N_("Cust. no."), False),
    "customer_name": ("customers.name", N_("Customer name"), False),
    "reg_number": ("vehicles.reg_number", N_("Reg. no."), True),
    "status": ("orders.status", N_("Status"), False),
    "total": ("orders.total_minor", N_("Amount"), False),
    "payment_method": ("orders.payment_method", N_("Payment method"), True),
    "payment_received": ("orders.payment_received", N_("Payment received"), False),
    "received_at": ("orders.payment_received_at", N_("Time payment was received"), True),
    "created_at": ("orders.created_at", N_("Created"), False),
    "invoice_number": ("orders.invoice_number", N_("Invoice no."), True),
}
TIME_SORTS = frozenset({"received_at", "created_at"})


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


def _utc(value: str | datetime | None) -> datetime | None:
    """A stored UTC time (SQLite: text, PostgreSQL: naive datetime) as aware UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC)


# The list's columns, in the order of the query's select list (OrderRow's tuple).
FIELDS = (
    "id",
    "number",
    "customer_number",
    "customer_name",
    "reg_number",
    "status",
    "total_minor",
    "currency",
    "payment_method",
    "payment_received",
    "received_at",
    "created_at",
    "invoice_number",
)


class OrderRow(tuple[Any, ...]):
    """One row of the list: the query's tuple as the driver returned it.

    Fields are read by name; ``payment_received`` becomes a bool and the times
    aware UTC datetimes when read (a page shows a few of them, a CSV export
    formats them its own way), so building a page costs no per-field work.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        id: int
        number: int
        customer_number: int
        customer_name: str
        reg_number: str | None
        status: str
        total_minor: int
        currency: str
        payment_method: str | None
        invoice_number: int | None
    else:
        id = property(itemgetter(0))
        number = property(itemgetter(1))
        customer_number = property(itemgetter(2))
        customer_name = property(itemgetter(3))
        reg_number = property(itemgetter(4))
        status = property(itemgetter(5))
        total_minor = property(itemgetter(6))
        currency = property(itemgetter(7))
        payment_method = property(itemgetter(8))
        invoice_number = property(itemgetter(12))

    @property
    def payment_received(self) -> bool:
        return bool(self[9])

    @property
    def received_at(self) -> datetime | None:
        return _utc(self[10])

    @property
    def created_at(self) -> datetime:
        created = _utc(self[11])
        assert created is not None
        return created

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    def to_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat().replace("+00:00", "Z") if t else None

        data = self.as_dict()
        del data["id"]
        data["received_at"], data["created_at"] = iso(self.received_at), iso(self.created_at)
        return data

    def __repr__(self) -> str:
        return f"OrderRow(number={self.number}, status={self.status!r}, id={self.id})"


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the sort value and the order id of its last row."""

    value: Any
    id: int


@dataclass(frozen=True)
class Page:
    rows: list[OrderRow]
    next: Cursor | None  # None: this was the last page


# The list's columns in OrderRow's order, and the joins every phase reads them through.
_SELECT = (
    "SELECT orders.id, orders.number, customers.number, customers.name, vehicles.reg_number, "
    "orders.status, orders.total_minor, orders.currency, orders.payment_method, "
    "orders.payment_received, orders.payment_received_at, orders.created_at, "
    "orders.invoice_number FROM orders JOIN customers ON customers.id = orders.customer_id "
    "LEFT OUTER JOIN vehicles ON vehicles.id = orders.vehicle_id"
)

# ---------------------------------------------------------------- filter shapes

# What the SQL of a filter looks like (which conditions, how many statuses, what the
# search term can be): hashable, so each shape is compiled once.
Shape = tuple[Any, ...]
_TIME_PARAMS = ("received_from", "received_to", "created_from", "created_to")


def _shape(f: OrderFilter) -> tuple[Shape, dict[str, Any]]:
    """The filter's shape and the values of its parameters."""
    values: dict[str, Any] = {}
    for i, status in enumerate(f.statuses):
        values[f"status_{i}"] = status.value
    if f.customer_number is not None:
        values["customer_number"] = f.customer_number
    for name in _TIME_PARAMS:
        if getattr(f, name) is not None:
            values[name] = getattr(f, name)
    if f.payment_method is not None:
        values["payment_method"] = f.payment_method.value
    term = unicodedata.normalize("NFC", f.text).strip()
    reg = "".join(c for c in term.upper() if c.isalnum())
    number = term.isascii() and term.isdigit() and len(term) < 12  # ² is a digit, not for int()
    if term:
        values["name_pattern"] = f"%{_escape(term)}%"
        if reg:
            values["reg_pattern"] = f"{_escape(reg)}%"
        if number:
            values["term_number"] = int(term)
    shape = (
        len(f.statuses),
        f.customer_number is not None,
        f.received,
        *(getattr(f, name) is not None for name in _TIME_PARAMS),
        f.payment_method is not None,
        (bool(term), bool(reg), number) if term else None,
    )
    return shape, values


def _where(shape: Shape, sqlite: bool) -> tuple[list[str], list[str]]:
    """The conditions of a filter shape (``?`` placeholders) and their parameters' names."""
    n_statuses, customer, received, r_from, r_to, c_from, c_to, method, text = shape
    where: list[str] = []
    names: list[str] = []

    def add(condition: str, *params: str) -> None:
        where.append(condition)
        names.extend(params)

    if n_statuses:
        statuses = [f"status_{i}" for i in range(n_statuses)]
        add(f"orders.status IN ({', '.join('?' * n_statuses)})", *statuses)
    if customer:
        add(
            "orders.customer_id IN (SELECT customers.id FROM customers WHERE customers.number = ?)",
            "customer_number",
        )
    if received is not None:
        add(f"orders.payment_received = {'TRUE' if received else 'FALSE'}")
    if r_from:
        add("orders.payment_received_at >= ?", "received_from")
    if r_to:
        add("orders.payment_received_at < ?", "received_to")
    if c_from:
        add("orders.created_at >= ?", "created_from")
    if c_to:
        add("orders.created_at < ?", "created_to")
    if method:
        add("orders.payment_method = ?", "payment_method")
    if text is not None:
        _term, reg, number = text
        # SQLite's lower() is verkstad's Unicode one (see db.py); PostgreSQL folds by itself.
        name = "lower(customers.name) LIKE lower(?)" if sqlite else "customers.name ILIKE ?"
        matches = [
            f"orders.customer_id IN (SELECT customers.id FROM customers WHERE {name} ESCAPE '\\')"
        ]
        params = ["name_pattern"]
        if reg:
            matches.append(
                "orders.vehicle_id IN (SELECT vehicles.id FROM vehicles"
                " WHERE vehicles.reg_number LIKE ? ESCAPE '\\')"
            )
            params.append("reg_pattern")
        if number:
            matches.append("orders.number = ?")
            matches.append(
                "orders.customer_id IN (SELECT customers.id FROM customers"
                " WHERE customers.number = ?)"
            )
            params += ["term_number", "term_number"]
        add(f"({' OR '.join(matches)})", *params)
    return where, names


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def sort_key(name: str) -> str:
    if name not in COLUMNS:
        raise ValidationError(
            _("Sort"), _("must be one of: {choices}").format(choices=", ".join(COLUMNS))
        )
    return name


@dataclass(frozen=True)
class Statement:
    """A phase's SQL in the driver's placeholder style, and its parameters' names."""

    sql: str
    names: tuple[str, ...]

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        return [values[n] for n in self.names]


@lru_cache(maxsize=512)
def compiled(
    sqlite: bool,
    shape: Shape,
    sort: str,
    nulls: bool,
    descending: bool,
    resume: bool,
    limited: bool = True,
) -> Statement:
    """One index-friendly phase: the rows whose sort value is NULL, or those with a value."""
    column, _label, nullable = COLUMNS[sort]
    where, names = _where(shape, sqlite)
    way = "DESC" if descending else "ASC"
    if nulls:
        where.append(f"{column} IS NULL")
        order = f"orders.id {way}"
        if resume:
            where.append(f"orders.id {'<' if descending else '>'} ?")
            names.append("after_id")
    else:
        if nullable:
            where.append(f"{column} IS NOT NULL")
        order = f"{column} {way}, orders.id {way}"
        if resume:
            where.append(f"({column}, orders.id) {'<' if descending else '>'} (?, ?)")
            names += ["after_value", "after_id"]
    sql = _SELECT + (f" WHERE {' AND '.join(where)}" if where else "") + f" ORDER BY {order}"
    if limited:
        sql += " LIMIT ?"
        names.append("limit")
    return Statement(sql if sqlite else sql.replace("?", "%s"), tuple(names))


def _plan(nullable: bool, descending: bool, after: Cursor | None) -> list[tuple[bool, bool]]:
    """The phases to read, as (is the NULL phase, resume from the cursor)."""
    phases = [False, True] if not descending else [True, False]
    if not nullable:
        return [(False, True)]
    if after is None:
        return [(p, True) for p in phases]
    start = phases.index(after.value is None)
    return [(p, i == start) for i, p in enumerate(phases) if i >= start]


def bind_values(db: Database, flt: OrderFilter | None) -> tuple[Shape, dict[str, Any]]:
    """The filter's shape and its values as the driver takes them (times as stored).

    The dict is shared (cached per filter): copy it before changing it."""
    return _bound(flt or OrderFilter(), db.is_sqlite)


@lru_cache(maxsize=64)
def _bound(flt: OrderFilter, sqlite: bool) -> tuple[Shape, dict[str, Any]]:
    shape, values = _shape(flt)
    for name in _TIME_PARAMS:
        if name in values:
            values[name] = stored_time(values[name], sqlite)
    return shape, values


def _cursor_values(db: Database, sort: str, after: Cursor | None) -> dict[str, Any]:
    if after is None:
        return {}
    value = after.value
    if sort in TIME_SORTS and value is not None:
        value = stored_time(value, db.is_sqlite)
    return {"after_value": value, "after_id": after.id}


_make_row = partial(tuple.__new__, OrderRow)


def _phases(flt: OrderFilter | None, sort: str, descending: bool, after: Cursor | None) -> Any:
    nullable = COLUMNS[sort][2]
    if sort == "received_at" and flt and (flt.received_from or flt.received_to):
        nullable = False  # a range of received times has no order without one
    return _plan(nullable, descending, after)


def list_orders(
    db: Database,
    flt: OrderFilter | None = None,
    sort: str = "number",
    descending: bool = False,
    after: Cursor | None = None,
    limit: int = 50,
) -> Page:
    """One page of the list, starting after ``after`` (None: the first page)."""
    phases = _phases(flt, sort_key(sort), descending, after)
    shape, values = bind_values(db, flt)
    cursor_values = _cursor_values(db, sort, after)

    def read(conn: Any) -> list[Any]:
        found: list[Any] = []
        for nulls, resume in phases:
            want = limit + 1 - len(found)
            if want <= 0:
                break
            statement = compiled(
                db.is_sqlite, shape, sort, nulls, descending, resume and bool(after)
            )
            params = {**values, **(cursor_values if resume else {}), "limit": want}
            found.extend(conn.execute(statement.sql, statement.parameters(params)).fetchall())
        return found

    found = db.hot_read(read, snapshot=len(phases) > 1)
    more = len(found) > limit
    rows = list(map(_make_row, found[:limit]))
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
    """Every matching order, page by page (constant memory)."""
    after: Cursor | None = None
    while True:
        page = list_orders(db, flt, sort, descending, after, batch)
        yield from page.rows
        if page.next is None:
            return
        after = page.next


def stream_orders(
    db: Database,
    flt: OrderFilter | None = None,
    sort: str = "number",
    descending: bool = False,
    batch: int = 5000,
) -> Iterator[list[tuple[Any, ...]]]:
    """Every matching order as the driver's tuples (OrderRow's layout), in batches.

    One query per phase on one snapshot, streamed (a server-side cursor on
    PostgreSQL), so memory stays flat however many orders there are: for exports.
    """
    phases = _phases(flt, sort_key(sort), descending, None)
    shape, values = bind_values(db, flt)
    statements = []
    for nulls, _resume in phases:
        statement = compiled(db.is_sqlite, shape, sort, nulls, descending, False, limited=False)
        statements.append((statement.sql, statement.parameters(values)))
    return db.stream(statements, batch)


def count_orders(db: Database, flt: OrderFilter | None = None) -> int:
    shape, values = bind_values(db, flt)
    where, names = _where(shape, db.is_sqlite)
    sql = "SELECT count(*) FROM orders" + (f" WHERE {' AND '.join(where)}" if where else "")
    params = [values[n] for n in names]
    return int(db.hot_read(lambda conn: conn.execute(db.sql(sql), params).fetchone()[0]))


@dataclass(frozen=True)
class CompanyBasics:
    country: str
    timezone: str


def company_basics(db: Database) -> CompanyBasics:
    """What the counter needs of the company before its first screen (no ORM)."""
    sql = "SELECT country, timezone FROM company WHERE id = 1"
    row = db.hot_read(lambda conn: conn.execute(sql).fetchone())
    assert row is not None, "the initial migration creates the company row"
    return CompanyBasics(row[0], row[1])
