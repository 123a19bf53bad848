"""Every (status, action) pair: the legal ones move as the table says, the rest are refused."""

import pytest

from verkstad.errors import DomainError, ValidationError
from verkstad.orders.status import TRANSITIONS, Action, OrderStatus, next_status, parse_status

S = OrderStatus
EXPECTED = {
    (S.OPEN, Action.COMPLETE): S.DONE,
    (S.DONE, Action.REOPEN): S.OPEN,
    (S.DONE, Action.SEND_PAYMENT): S.MPAY,
    (S.MPAY, Action.CANCEL_PAYMENT): S.DONE,
    (S.DONE, Action.POST): S.POSTED,
    (S.MPAY, Action.POST): S.POSTED,
    (S.POSTED, Action.CREDIT): S.CREDITED,
}
PAIRS = [(s, a) for s in OrderStatus for a in Action]


def test_table_is_exactly_the_designed_lifecycle():
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("status", "action"), PAIRS, ids=[f"{s.name}-{a.name}" for s, a in PAIRS])
def test_every_pair(status: OrderStatus, action: Action):
    if (status, action) in EXPECTED:
        assert next_status(status, action) == EXPECTED[(status, action)]
    else:
        with pytest.raises(DomainError) as e:
            next_status(status, action)
        assert status.value in str(e.value)
        assert "Allowed:" in str(e.value)


def test_refusal_names_what_is_allowed():
    with pytest.raises(DomainError, match="Mark complete"):
        next_status(S.OPEN, Action.POST)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("ÖPPEN", S.OPEN),
        ("oppen", S.OPEN),
        (" klart ", S.DONE),
        ("bokford", S.POSTED),
        ("MOBILBET", S.MPAY),
        ("Krediterad", S.CREDITED),
        ("POSTED", S.POSTED),
    ],
)
def test_parse_status(text: str, status: OrderStatus):
    assert parse_status(text) == status


def test_parse_status_refuses_unknown():
    with pytest.raises(ValidationError, match="Status"):
        parse_status("BETALD")
