"""Line amounts, VAT per rate and the öresavrundning of the payable total.

All arithmetic is on integers: quantities in thousandths, prices in öre,
discounts in basis points. Rounding is half away from zero (Lag 1970:1029:
below 50 öre down, from 50 up; credits mirror it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol


class LineLike(Protocol):
    quantity_milli: int
    unit_price_minor: int
    discount_bp: int
    vat_rate: int


def div_round(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero (denominator > 0)."""
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return q if numerator >= 0 else -q


def line_net(line: LineLike) -> int:
    """The line's amount excl. VAT in öre: quantity × price − discount."""
    return div_round(
        line.quantity_milli * line.unit_price_minor * (10_000 - line.discount_bp), 1000 * 10_000
    )


@dataclass(frozen=True)
class RateTotal:
    rate: int
    net: int
    vat: int


@dataclass(frozen=True)
class Totals:
    rates: list[RateTotal] = field(default_factory=list)
    net: int = 0
    vat: int = 0
    gross: int = 0  # net + VAT, to the öre
    rounding: int = 0  # payable − gross
    payable: int = 0


def compute_totals(lines: Iterable[LineLike], round_to_whole: bool = True) -> Totals:
    nets: dict[int, int] = {}
    for line in lines:
        nets[line.vat_rate] = nets.get(line.vat_rate, 0) + line_net(line)
    rates = [
        RateTotal(rate, net, div_round(net * rate, 100))
        for rate, net in sorted(nets.items(), reverse=True)
    ]
    net = sum(r.net for r in rates)
    vat = sum(r.vat for r in rates)
    gross = net + vat
    payable = div_round(gross, 100) * 100 if round_to_whole else gross
    return Totals(rates, net, vat, gross, payable - gross, payable)
