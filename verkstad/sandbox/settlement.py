"""Settlement reports: what each provider pays out, when, its fee, and the payments covered.

Each provider's file imitates the report it really delivers (names and
separators differ), but every one carries the same facts: the payout's id
and date, currency, per money movement its date, type, the provider's id,
the merchant's reference and verkstad's reference, gross, fee, VAT on the
fee and net, and one payout row per payout with the totals. Amounts are
major units with a point and two decimals; refunds are negative. The fees
and payout delays are the sandbox's (see docs/sandbox.md), not a tariff.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from verkstad.sandbox.store import Store

PROVIDER_ZONE = ZoneInfo("Europe/Stockholm")


@dataclass(frozen=True)
class FeeRule:
    percent: Decimal  # of the gross
    fixed_minor: int  # per payment
    vat_percent: Decimal  # VAT charged on the fee (payment services are usually exempt)
    payout_days: int  # days after the transaction
    business_days: bool  # count Monday-Friday only


FEES: dict[str, FeeRule] = {
    "vipps": FeeRule(Decimal("1.75"), 0, Decimal(0), 2, True),
    "swish": FeeRule(Decimal(0), 200, Decimal(0), 0, False),
    "stripe": FeeRule(Decimal("1.5"), 180, Decimal(0), 7, False),
    "resurs": FeeRule(Decimal("0.9"), 0, Decimal(0), 1, True),
}
# Resurs charges the merchant by how the customer chose to pay.
RESURS_PERCENT = {
    "CARD": Decimal("0.9"),
    "RESURS_INVOICE": Decimal("1.9"),
    "RESURS_PART_PAYMENT": Decimal("3.5"),
    "RESURS_ZERO": Decimal("4.5"),
}

COLUMNS = {
    "vipps": (
        "SettlementNumber;PayoutDate;Currency;TransactionDate;TransactionType;PspReference;"
        "Reference;VerkstadReference;GrossAmount;Fee;FeeVat;NetAmount"
    ),
    "swish": (
        "Utbetalningsnummer;Utbetalningsdag;Valuta;Transaktionsdag;Typ;Swish-ID;"
        "Betalningsreferens;Verkstadsreferens;Brutto;Avgift;Moms på avgift;Netto"
    ),
    "stripe": (
        "automatic_payout_id,automatic_payout_effective_at,currency,created_utc,"
        "reporting_category,source_id,client_reference_id,verkstad_reference,"
        "gross,fee,fee_tax,net"
    ),
    "resurs": (
        "Avräkningsnummer;Utbetalningsdag;Valuta;Transaktionsdag;Typ;Betalnings-ID;"
        "Ordernummer;Verkstadsreferens;Brutto;Avgift;Moms på avgift;Netto"
    ),
}
TYPES = {
    "vipps": {"CAPTURE": "CAPTURE", "REFUND": "REFUND", "PAYOUT": "PAYOUT"},
    "swish": {"PAYMENT": "BETALNING", "REFUND": "ÅTERBETALNING", "PAYOUT": "UTBETALNING"},
    "stripe": {"PAYMENT": "charge", "REFUND": "refund", "PAYOUT": "payout"},
    "resurs": {"CAPTURE": "DEBITERING", "REFUND": "KREDITERING", "PAYOUT": "UTBETALNING"},
}


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def payout_date(provider: str, at: datetime) -> date:
    rule = FEES[provider]
    day = at.astimezone(PROVIDER_ZONE).date()
    left = rule.payout_days
    while left > 0 or (rule.business_days and day.weekday() >= 5):
        day += timedelta(days=1)
        if not rule.business_days or day.weekday() < 5:
            left -= 1
    return day


def fee_of(provider: str, tx: dict[str, Any]) -> tuple[int, int]:
    """The fee and the VAT on it, in minor units (refunds cost nothing and return no fee)."""
    if tx["kind"] == "REFUND":
        return 0, 0
    rule = FEES[provider]
    percent = (
        RESURS_PERCENT.get(tx.get("method") or "", rule.percent)
        if provider == "resurs"
        else rule.percent
    )
    fee = _round(Decimal(tx["amount_minor"]) * percent / 100) + rule.fixed_minor
    return fee, _round(Decimal(fee) * rule.vat_percent / 100)


@dataclass
class Line:
    payout_id: str
    payout_day: date
    currency: str
    at: datetime
    kind: str
    provider_id: str
    merchant_ref: str
    human_ref: str
    gross: int
    fee: int
    fee_vat: int

    @property
    def net(self) -> int:
        return self.gross - self.fee - self.fee_vat


def lines_for(store: Store, provider: str, start: date, end: date) -> list[Line]:
    """Money movements paid out from ``start`` to ``end`` inclusive, then one row per payout."""
    movements: list[Line] = []
    for at, tx in store.transactions(provider):
        day = payout_date(provider, at)
        if not start <= day <= end:
            continue
        fee, vat = fee_of(provider, tx)
        sign = -1 if tx["kind"] == "REFUND" else 1
        movements.append(
            Line(
                payout_id=f"{provider[:2].upper()}{day:%Y%m%d}{tx['currency']}",
                payout_day=day,
                currency=tx["currency"],
                at=at,
                kind=tx["kind"],
                provider_id=str(tx.get("stripe_id") or tx.get("psp_reference") or tx["payment_id"]),
                merchant_ref=tx["merchant_ref"],
                human_ref=tx["human_ref"],
                gross=sign * tx["amount_minor"],
                fee=fee,
                fee_vat=vat,
            )
        )
    payouts: dict[str, list[Line]] = defaultdict(list)
    for line in movements:
        payouts[line.payout_id].append(line)
    out: list[Line] = []
    for payout_id in sorted(payouts, key=lambda k: (payouts[k][0].payout_day, k)):
        group = payouts[payout_id]
        out.extend(group)
        first = group[0]
        out.append(
            Line(
                payout_id,
                first.payout_day,
                first.currency,
                datetime.combine(first.payout_day, datetime.min.time(), PROVIDER_ZONE),
                "PAYOUT",
                "",
                "",
                "",
                sum(x.gross for x in group),
                sum(x.fee for x in group),
                sum(x.fee_vat for x in group),
            )
        )
    return out


def _amount(minor: int) -> str:
    return f"{Decimal(minor).scaleb(-2):.2f}"


def report(store: Store, provider: str, start: date, end: date) -> str:
    """The settlement file for ``provider`` covering payouts from ``start`` to ``end``."""
    header = COLUMNS[provider]
    delimiter = "," if provider == "stripe" else ";"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header.split(delimiter))
    for line in lines_for(store, provider, start, end):
        kind = TYPES[provider].get(line.kind, line.kind)
        zone = UTC if provider == "stripe" else PROVIDER_ZONE
        when = line.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        writer.writerow(
            [
                line.payout_id,
                line.payout_day.isoformat(),
                line.currency.lower() if provider == "stripe" else line.currency,
                when,
                kind,
                line.provider_id,
                line.merchant_ref,
                line.human_ref,
                _amount(line.gross),
                _amount(line.fee),
                _amount(line.fee_vat),
                _amount(line.net),
            ]
        )
    return buffer.getvalue()
