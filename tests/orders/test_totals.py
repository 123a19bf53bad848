"""Line amounts, VAT per rate and öresavrundning, with worked examples and properties."""

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from verkstad.orders.totals import compute_totals, div_round, line_net


@dataclass
class L:
    quantity_milli: int
    unit_price_minor: int
    discount_bp: int = 0
    vat_rate: int = 25


def test_worked_example():
    t = compute_totals([L(1000, 119_920), L(1000, 185_000)])
    assert (t.net, t.vat, t.gross, t.payable, t.rounding) == (304_920, 76_230, 381_150, 381_200, 50)


def test_rounding_down_below_50_ore():
    t = compute_totals([L(1000, 9_939)])  # 99,39 + 24,85 = 124,24
    assert (t.gross, t.payable, t.rounding) == (12_424, 12_400, -24)


def test_several_rates_and_discount():
    t = compute_totals([L(1500, 100_000, 1000), L(2000, 5_000, 0, 12), L(1000, 999, 0, 0)])
    assert [(r.rate, r.net, r.vat) for r in t.rates] == [
        (25, 135_000, 33_750),
        (12, 10_000, 1_200),
        (0, 999, 0),
    ]
    assert t.payable % 100 == 0


def test_no_rounding_when_company_does_not_round():
    t = compute_totals([L(1000, 9_939)], round_to_whole=False)
    assert t.payable == t.gross == 12_424 and t.rounding == 0


def test_div_round_is_half_away_from_zero():
    assert [div_round(n, 100) for n in (49, 50, 150, -49, -50, -150)] == [0, 1, 2, 0, -1, -2]


def test_line_net_quantity_and_discount():
    assert line_net(L(1500, 106_000)) == 159_000
    assert line_net(L(1000, 119_920, 1000)) == 107_928


lines = st.lists(
    st.builds(
        L,
        st.integers(1, 100_000),
        st.integers(0, 10_000_000),
        st.integers(0, 10_000),
        st.sampled_from([25, 12, 6, 0]),
    ),
    max_size=20,
)


@given(lines)
def test_totals_are_consistent(ls: list[L]):
    t = compute_totals(ls)
    assert t.net == sum(line_net(x) for x in ls)
    assert t.vat == sum(r.vat for r in t.rates)
    assert t.payable == t.gross + t.rounding
    assert t.payable % 100 == 0 and -50 < t.rounding <= 50
