"""Verifications: rows that balance to the öre, a gapless number, and reading them back."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from verkstad.audit import record
from verkstad.db import Database
from verkstad.errors import DomainError
from verkstad.failpoints import reach
from verkstad.i18n import _
from verkstad.ledger.accounts import load_chart, parse_account
from verkstad.ledger.models import Verification, VerificationRow
from verkstad.money import format_amount
from verkstad.orders.models import Order
from verkstad.series import take_number
from verkstad.users import Actor


@dataclass(frozen=True)
class Row:
    """One row of a verification: debit positive, credit negative, in öre."""

    account: str
    amount: int
    role: str
    vat_rate: int | None = None


def negate(rows: Iterable[Row]) -> list[Row]:
    return [Row(r.account, -r.amount, r.role, r.vat_rate) for r in rows]


def merged(rows: Iterable[Row]) -> list[Row]:
    """Rows with the same account, role and rate added up (first appearance kept); zeros go."""
    sums: dict[tuple[str, str, int | None], int] = {}
    for r in rows:
        key = (r.account, r.role, r.vat_rate)
        sums[key] = sums.get(key, 0) + r.amount
    return [Row(a, amount, role, rate) for (a, role, rate), amount in sums.items() if amount]


class Unbalanced(DomainError):
    def __init__(self, difference: int) -> None:
        super().__init__(
            _("The verification does not balance: debit and credit differ by {amount}.").format(
                amount=format_amount(difference)
            )
        )


def check_balanced(rows: Iterable[Row]) -> None:
    difference = sum(r.amount for r in rows)
    if difference:
        raise Unbalanced(difference)


def add_verification(
    s: Session,
    actor: Actor,
    kind: str,
    booked_on: date,
    text: str,
    rows: list[Row],
    order_id: int | None = None,
    document_number: int | None = None,
) -> Verification:
    """Book ``rows`` in the caller's unit of work; refuses an unbalanced or empty voucher."""
    check_balanced(rows)
    if not rows:
        raise DomainError(_("There is nothing to book: every amount is zero."))
    verification = Verification(
        number=take_number(s, "verification"),
        booked_on=booked_on,
        kind=kind,
        text=text[:200],
        order_id=order_id,
        document_number=document_number,
        created_by=actor.name,
    )
    s.add(verification)
    s.flush()
    assert verification.id is not None
    for r in rows:
        s.add(
            VerificationRow(
                verification_id=verification.id,
                account=r.account,
                amount_minor=r.amount,
                role=r.role,
                vat_rate=r.vat_rate,
            )
        )
    record(
        s,
        actor,
        "verification",
        verification.number,
        "book",
        None,
        {"kind": kind, "rows": [[r.account, r.amount] for r in rows]},
    )
    reach("ledger.before_commit")
    return verification


def rows_of(s: Session, verification_ids: Iterable[int]) -> dict[int, list[Row]]:
    ids = list(verification_ids)
    out: dict[int, list[Row]] = {i: [] for i in ids}
    if not ids:
        return out
    R = VerificationRow
    query = (  # plain columns, not ORM objects: exports read hundreds of thousands
        columns(
            *(col(c) for c in (R.verification_id, R.account, R.amount_minor, R.role, R.vat_rate))
        )
        .where(col(R.verification_id).in_(ids))
        .order_by(col(R.id))
    )
    for verification_id, account, amount, role, vat_rate in s.execute(query):
        out[verification_id].append(Row(account, amount, role, vat_rate))
    return out


# ---------------------------------------------------------------- reading the books


@dataclass(frozen=True)
class RowView:
    account: str
    name: str
    amount_minor: int


@dataclass(frozen=True)
class VerificationView:
    number: int
    booked_on: date
    kind: str
    text: str
    order_number: int | None
    document_number: int | None
    created_at: datetime
    created_by: str
    rows: list[RowView] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "booked_on": self.booked_on.isoformat(),
            "kind": self.kind,
            "text": self.text,
            "order_number": self.order_number,
            "document_number": self.document_number,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "created_by": self.created_by,
            "rows": [r.__dict__ for r in self.rows],
        }


def iter_verifications(
    db: Database, date_from: date | None = None, date_to: date | None = None, batch: int = 5000
) -> Iterator[VerificationView]:
    """Verifications booked in [date_from, date_to] by number, batch by batch (constant memory)."""
    after = 0
    while True:
        with db.read() as s:
            chart = load_chart(s)
            V = Verification
            query = columns(  # plain columns, not ORM objects: exports read a great many
                *(
                    col(c)
                    for c in (
                        V.id,
                        V.number,
                        V.booked_on,
                        V.kind,
                        V.text,
                        Order.number,
                        V.document_number,
                        V.created_at,
                        V.created_by,
                    )
                )
            ).outerjoin(Order, col(Order.id) == V.order_id)
            query = query.where(col(V.number) > after)
            if date_from is not None:
                query = query.where(col(V.booked_on) >= date_from)
            if date_to is not None:
                query = query.where(col(V.booked_on) <= date_to)
            found = list(s.execute(query.order_by(col(V.number)).limit(batch)))
            rows = rows_of(s, [v[0] for v in found if v[0] is not None])
            views = [
                VerificationView(
                    number,
                    booked_on,
                    kind,
                    text,
                    order_number,
                    document_number,
                    created_at,
                    created_by,
                    [RowView(r.account, chart.name(r.account), r.amount) for r in rows[id_]],
                )
                for (
                    id_,
                    number,
                    booked_on,
                    kind,
                    text,
                    order_number,
                    document_number,
                    created_at,
                    created_by,
                ) in found
            ]
        yield from views
        if len(found) < batch:
            return
        after = found[-1][1]


def balance(db: Database, account: str, until: date | None = None) -> int:
    """The account's balance (debit positive) over everything booked up to ``until``."""
    number = parse_account(account)
    with db.read() as s:
        query = (
            select(func.coalesce(func.sum(VerificationRow.amount_minor), 0))
            .join(Verification, col(Verification.id) == VerificationRow.verification_id)
            .where(VerificationRow.account == number)
        )
        if until is not None:
            query = query.where(col(Verification.booked_on) <= until)
        return int(s.exec(query).one())


def balances(s: Session, date_from: date | None, date_to: date | None) -> dict[str, int]:
    """Every account's movement over verifications booked in [date_from, date_to] (None: open)."""
    query = select(VerificationRow.account, func.sum(VerificationRow.amount_minor)).join(
        Verification, col(Verification.id) == VerificationRow.verification_id
    )
    if date_from is not None:
        query = query.where(col(Verification.booked_on) >= date_from)
    if date_to is not None:
        query = query.where(col(Verification.booked_on) <= date_to)
    query = query.group_by(VerificationRow.account)
    return {account: int(total) for account, total in s.exec(query)}
