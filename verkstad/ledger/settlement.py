"""Settlement import: book what a provider paid out ("bokföra in den korrekta summan").

Per payout, one verification: the bank account is debited with the net, the
provider's fee account with the fee, 2641 with VAT on the fee, and 1931 is
credited with the gross (a refund line turns the signs). Every line is matched
to a payment request by verkstad's reference (else the provider's payment id);
lines that do not match, or whose amounts disagree with the books, are
reported and not booked. A line booked once is never booked again, however
often the report is imported (unique key per provider, payout and movement).

The four formats are those the sandbox writes (docs/books.md describes them):
Vipps, Swish and Resurs with ``;``, Stripe with ``,``; amounts in major units
with a point; refunds negative; one PAYOUT row per payout with its totals.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from verkstad.audit import record
from verkstad.db import Database
from verkstad.errors import ConflictError, ValidationError
from verkstad.failpoints import reach
from verkstad.i18n import _
from verkstad.ledger.accounts import Chart, load_chart
from verkstad.ledger.journal import Row, add_verification, merged
from verkstad.ledger.models import CreditNote, SettledPayment, SettlementImport
from verkstad.ledger.receipts import paid_through_clearing
from verkstad.money import CURRENCIES, Money
from verkstad.mpay.models import PaymentRequest
from verkstad.orders.models import Order
from verkstad.orders.status import PaymentMethod
from verkstad.users import Actor, Role, require_role


@dataclass(frozen=True)
class Format:
    delimiter: str
    header: tuple[str, ...]
    kinds: dict[str, str]  # the provider's word → payment | refund | payout


FORMATS = {
    "vipps": Format(
        ";",
        (
            "SettlementNumber", "PayoutDate", "Currency", "TransactionDate", "TransactionType",
            "PspReference", "Reference", "VerkstadReference", "GrossAmount", "Fee", "FeeVat",
            "NetAmount",
        ),
        {"CAPTURE": "payment", "REFUND": "refund", "PAYOUT": "payout"},
    ),
    "swish": Format(
        ";",
        (
            "Utbetalningsnummer", "Utbetalningsdag", "Valuta", "Transaktionsdag", "Typ",
            "Swish-ID", "Betalningsreferens", "Verkstadsreferens", "Brutto", "Avgift",
            "Moms på avgift", "Netto",
        ),
        {"BETALNING": "payment", "ÅTERBETALNING": "refund", "UTBETALNING": "payout"},
    ),
    "stripe": Format(
        ",",
        (
            "automatic_payout_id", "automatic_payout_effective_at", "currency", "created_utc",
            "reporting_category", "source_id", "client_reference_id", "verkstad_reference",
            "gross", "fee", "fee_tax", "net",
        ),
        {"charge": "payment", "refund": "refund", "payout": "payout"},
    ),
    "resurs": Format(
        ";",
        (
            "Avräkningsnummer", "Utbetalningsdag", "Valuta", "Transaktionsdag", "Typ",
            "Betalnings-ID", "Ordernummer", "Verkstadsreferens", "Brutto", "Avgift",
            "Moms på avgift", "Netto",
        ),
        {"DEBITERING": "payment", "KREDITERING": "refund", "UTBETALNING": "payout"},
    ),
}  # fmt: skip

# Major units with a point and two decimals; thirteen digits of kronor are far above any
# payout and keep every sum within a 64-bit column.
_AMOUNT = re.compile(r"^-?\d{1,13}\.\d{2}\Z")


MAX_PAYOUT_ID = 100  # SettledPayment.payout_id


def _shown(value: str, limit: int = 30) -> str:
    """A cell as a refusal quotes it: one line, not too long."""
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class SettlementLine:
    line_no: int
    payout_id: str
    payout_date: date
    currency: str
    at: str
    kind: str  # payment | refund | payout
    provider_id: str
    merchant_ref: str
    reference: str
    gross: int
    fee: int
    fee_vat: int
    net: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.provider_id}:{self.at}:{self.gross}"[:200]


@dataclass(frozen=True)
class Report:
    provider: str
    lines: list[SettlementLine]


def _amount(text: str, line_no: int, column: str) -> int:
    value = text.strip()
    if not _AMOUNT.match(value):
        raise ValidationError(
            _("Line {n}").format(n=line_no),
            _("{column} must be an amount like 123.45, not “{value}”").format(
                column=column, value=_shown(value)
            ),
        )
    whole, decimals = value.lstrip("-").split(".")
    minor = int(whole) * 100 + int(decimals)
    return -minor if value.startswith("-") else minor


def read_report(data: bytes) -> Report:
    """Parse a settlement report, recognising the provider by its header row."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(_("Settlement report"), _("must be UTF-8 text")) from None
    # Universal newlines: a lone CR (old Mac files, or a stray one) ends a line as csv
    # expects, instead of making it give up with an error.
    text = io.StringIO(text, newline=None).read()
    first = text.split("\n", 1)[0] if text.strip() else ""
    provider = next(
        (
            name
            for name, f in FORMATS.items()
            if tuple(c.strip() for c in first.split(f.delimiter)) == f.header
        ),
        None,
    )
    if provider is None:
        raise ValidationError(
            _("Settlement report"),
            _("the header row is not one of: {providers}").format(providers=", ".join(FORMATS)),
        )
    fmt = FORMATS[provider]
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=fmt.delimiter))[1:]
    except csv.Error as e:  # e.g. a field longer than csv's limit
        raise ValidationError(
            _("Settlement report"),
            _("is not a CSV file that can be read ({detail})").format(detail=e),
        ) from None
    lines = []
    for line_no, cells in enumerate(rows, 2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(fmt.header):
            raise ValidationError(
                _("Line {n}").format(n=line_no),
                _("{count} fields, expected {expected}").format(
                    count=len(cells), expected=len(fmt.header)
                ),
            )
        kind = fmt.kinds.get(cells[4].strip())
        if kind is None:
            raise ValidationError(
                _("Line {n}").format(n=line_no),
                _("unknown type “{type}”").format(type=_shown(cells[4])),
            )
        try:
            payout_date = date.fromisoformat(cells[1].strip()[:10])
        except ValueError:
            raise ValidationError(
                _("Line {n}").format(n=line_no), _("the payout date must be YYYY-MM-DD")
            ) from None
        currency = cells[2].strip().upper()
        if currency not in CURRENCIES:
            raise ValidationError(
                _("Line {n}").format(n=line_no),
                _("unknown currency “{currency}”").format(currency=_shown(currency)),
            )
        if len(cells[0].strip()) > MAX_PAYOUT_ID:
            raise ValidationError(
                _("Line {n}").format(n=line_no),
                _("{column} must have at most {n} characters").format(
                    column=fmt.header[0], n=MAX_PAYOUT_ID
                ),
            )
        gross, fee, fee_vat, net = (_amount(cells[i], line_no, fmt.header[i]) for i in range(8, 12))
        lines.append(
            SettlementLine(
                line_no,
                cells[0].strip(),
                payout_date,
                currency,
                cells[3].strip(),
                kind,
                cells[5].strip(),
                cells[6].strip(),
                cells[7].strip(),
                gross,
                fee,
                fee_vat,
                net,
            )
        )
    return Report(provider, lines)


# ---------------------------------------------------------------- matching and booking


@dataclass(frozen=True)
class LineOutcome:
    line_no: int
    payout_id: str
    reference: str
    kind: str
    gross_minor: int
    currency: str
    status: str  # booked | already_booked | unmatched | mismatched
    reason: str = ""


@dataclass
class ImportResult:
    provider: str
    file_name: str
    verification_numbers: list[int] = field(default_factory=list)
    outcomes: list[LineOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "file_name": self.file_name,
            "verification_numbers": self.verification_numbers,
            "lines": [o.__dict__ for o in self.outcomes],
        }


class _Refused(Exception):
    def __init__(self, status: str, reason: str) -> None:
        self.status, self.reason = status, reason


def _find_request(s: Session, provider: str, line: SettlementLine) -> PaymentRequest:
    base = select(PaymentRequest).where(PaymentRequest.provider == provider)
    tries = [
        (col(PaymentRequest.reference), line.reference),
        (col(PaymentRequest.provider_ref), line.provider_id),
        (col(PaymentRequest.reference), line.merchant_ref),
        (col(PaymentRequest.idempotency_key), line.merchant_ref),
    ]
    for column, value in tries:
        if value:
            found = s.exec(base.where(column == value)).first()
            if found is not None:
                return found
    raise _Refused("unmatched", _("no payment with this reference"))


def _check(s: Session, req: PaymentRequest, line: SettlementLine) -> None:
    """The line must agree with what the books say about the payment."""
    if line.net != line.gross - line.fee - line.fee_vat:
        raise _Refused("mismatched", _("net is not gross minus fee and VAT on the fee"))
    if line.currency != req.currency:
        raise _Refused(
            "mismatched",
            _("currency {got}, the payment is in {want}").format(
                got=line.currency, want=req.currency
            ),
        )
    order = s.get(Order, req.order_id) if req.order_id else None
    if order is None:
        raise _Refused("unmatched", _("the payment belongs to no order"))
    if order.invoice_number is None:
        raise _Refused("unmatched", _("the payment's order is not posted yet"))
    if not paid_through_clearing(s, order):
        raise _Refused("mismatched", _("the order was not posted as a mobile payment"))
    if line.kind == "payment" and line.gross != req.captured_minor:
        raise _Refused(
            "mismatched",
            _("gross {got}, but {want} was captured").format(
                got=Money(line.gross, req.currency).format(),
                want=Money(req.captured_minor, req.currency).format(),
            ),
        )
    if line.kind == "refund":
        credited = s.exec(
            select(CreditNote.id).where(CreditNote.payment_request_id == req.id)
        ).first()
        if credited is None or -line.gross > req.refunded_minor:
            raise _Refused("mismatched", _("no credit note refunded this payment"))


# Roles of the rows, for payments and for refunds (kept apart so that a payment
# and its refund in one payout still show as two movements).
_ROLES = {
    "payment": ("bank", "fee", "fee_vat", "payment"),
    "refund": ("bank_refund", "fee_refund", "vat_refund", "refund"),
}


def _payout_rows(provider: str, lines: Sequence[SettlementLine], chart: Chart) -> list[Row]:
    """Bank D net, fee account D fee, 2641 D VAT on the fee, 1931 C gross (refunds mirrored)."""
    rows = []
    for kind, (bank, fee, fee_vat, clearing) in _ROLES.items():
        group = [x for x in lines if x.kind == kind]
        rows += [
            Row(chart["bank"], sum(x.net for x in group), bank),
            Row(chart[f"fee.{provider}"], sum(x.fee for x in group), fee),
            Row(chart["fee_vat"], sum(x.fee_vat for x in group), fee_vat),
            Row(chart.payment(PaymentMethod.MOBIL), -sum(x.gross for x in group), clearing),
        ]
    return merged(rows)


def _totals_agree(lines: Sequence[SettlementLine], total: SettlementLine) -> bool:
    def sums(xs: Sequence[SettlementLine]) -> tuple[int, ...]:
        return (
            sum(x.gross for x in xs),
            sum(x.fee for x in xs),
            sum(x.fee_vat for x in xs),
            sum(x.net for x in xs),
        )

    return sums(lines) == sums([total])


def import_settlement(db: Database, actor: Actor, data: bytes, file_name: str) -> ImportResult:
    """Read a settlement report and book every matched, not yet booked line (one transaction)."""
    require_role(db, actor, "import_settlement", Role.PAYMENT_MANAGER, Role.ADMIN)
    report = read_report(data)
    provider = report.provider
    result = ImportResult(provider, file_name)
    payouts: dict[str, list[SettlementLine]] = {}
    totals: dict[str, SettlementLine] = {}
    for line in report.lines:
        if line.kind == "payout":
            totals[line.payout_id] = line
        else:
            payouts.setdefault(line.payout_id, []).append(line)
    try:
        _book_report(db, actor, report, data, file_name, result, payouts, totals)
    except IntegrityError:
        raise ConflictError(
            _("The same report was imported at the same moment; import it again.")
        ) from None
    result.outcomes.sort(key=lambda o: o.line_no)
    return result


def _book_report(
    db: Database,
    actor: Actor,
    report: Report,
    data: bytes,
    file_name: str,
    result: ImportResult,
    payouts: dict[str, list[SettlementLine]],
    totals: dict[str, SettlementLine],
) -> None:
    provider = report.provider
    with db.session() as s:
        chart = load_chart(s)
        imported = SettlementImport(
            provider=provider,
            file_name=file_name[-200:],
            sha256=hashlib.sha256(data).hexdigest(),
            imported_by=actor.name,
        )
        s.add(imported)
        s.flush()
        assert imported.id is not None
        for payout_id, lines in payouts.items():
            total = totals.get(payout_id)
            if total is not None and not _totals_agree(lines, total):
                reason = _("the payout's total row does not match its lines")
                result.outcomes += [_outcome(x, "mismatched", reason) for x in lines]
                continue
            booked = _book_payout(s, actor, provider, imported.id, lines, chart, result)
            if booked is not None:
                result.verification_numbers.append(booked)
        imported.booked = result.count("booked")
        imported.skipped = len(result.outcomes) - imported.booked
        record(
            s,
            actor,
            "settlement",
            imported.id,
            "import",
            None,
            {"provider": provider, "file": file_name, "booked": imported.booked},
        )
        reach("settlement.before_commit")


def _outcome(line: SettlementLine, status: str, reason: str = "") -> LineOutcome:
    reference = line.reference or line.merchant_ref or line.provider_id
    return LineOutcome(
        line.line_no,
        line.payout_id,
        reference,
        line.kind,
        line.gross,
        line.currency,
        status,
        reason,
    )


def _book_payout(
    s: Session,
    actor: Actor,
    provider: str,
    import_id: int,
    lines: list[SettlementLine],
    chart: Chart,
    result: ImportResult,
) -> int | None:
    """Book the payout's matched lines; returns the verification number (None: nothing new)."""
    matched: list[tuple[SettlementLine, PaymentRequest]] = []
    seen: set[str] = set()  # a movement listed twice in the report is booked once
    for line in lines:
        if line.key in seen:
            result.outcomes.append(_outcome(line, "already_booked"))
            continue
        seen.add(line.key)
        done = s.exec(
            select(SettledPayment.id).where(
                SettledPayment.provider == provider,
                SettledPayment.payout_id == line.payout_id,
                SettledPayment.line_key == line.key,
            )
        ).first()
        if done is not None:
            result.outcomes.append(_outcome(line, "already_booked"))
            continue
        try:
            req = _find_request(s, provider, line)
            _check(s, req, line)
        except _Refused as refused:
            result.outcomes.append(_outcome(line, refused.status, refused.reason))
            continue
        matched.append((line, req))
    if not matched:
        return None
    first = matched[0][0]
    from verkstad.ledger.sie import book_text

    text = _("Payout {payout} from {provider}, {n} payments").format(
        payout=book_text(first.payout_id), provider=provider.capitalize(), n=len(matched)
    )  # the provider's payout id in what a SIE file can hold, as customers' names are
    rows = _payout_rows(provider, [x for x, _r in matched], chart)
    verification = add_verification(s, actor, "settlement", first.payout_date, text, rows)
    assert verification.id is not None
    for line, req in matched:
        assert req.id is not None
        s.add(
            SettledPayment(
                import_id=import_id,
                verification_id=verification.id,
                payment_request_id=req.id,
                provider=provider,
                payout_id=line.payout_id,
                line_key=line.key,
                reference=req.reference,
                kind=line.kind,
                gross_minor=line.gross,
                fee_minor=line.fee,
                fee_vat_minor=line.fee_vat,
                net_minor=line.net,
            )
        )
        result.outcomes.append(_outcome(line, "booked"))
    return verification.number
