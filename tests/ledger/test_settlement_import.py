"""Settlement import: the sandbox's reports booked per payout, 1931 cleared, nothing twice."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from tests.ledger.builders import paid_by_mobile
from verkstad.errors import PermissionDenied, ValidationError
from verkstad.ledger.credit import credit_order
from verkstad.ledger.journal import balance, iter_verifications
from verkstad.ledger.posting import post_order
from verkstad.ledger.settlement import FORMATS, import_settlement, read_report
from verkstad.mpay.models import PaymentRequest
from verkstad.sandbox.settlement import report
from verkstad.sandbox.store import Store
from verkstad.users import Actor, Role

PAID_AT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)  # a Friday: Resurs pays out on Monday
PAYOUT = date(2025, 3, 17)


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "sandbox.db")
    yield store
    store.close()


def reference_of(db) -> str:
    with db.read() as s:
        return s.exec(select(PaymentRequest.reference)).one()


def movement(store, kind: str, amount: int, reference: str, provider: str = "resurs") -> None:
    store.add_transaction(
        provider,
        PAID_AT,
        {
            "kind": kind,
            "payment_id": "fake-1",
            "merchant_ref": "ORDER-REF",
            "human_ref": reference,
            "amount_minor": amount,
            "currency": "SEK",
            "method": "CARD",
        },
    )


def settlement_file(store, provider: str = "resurs") -> bytes:
    return report(store, provider, PAYOUT, PAYOUT).encode("utf-8")


def rows_of(db, kind: str = "settlement"):
    found = [v for v in iter_verifications(db) if v.kind == kind]
    return [[(r.account, r.amount_minor) for r in v.rows] for v in found]


def test_payout_clears_1931_and_a_second_import_books_nothing(any_db, admin, provider, store):
    number = paid_by_mobile(any_db, admin, provider)
    post_order(any_db, admin, number)
    assert balance(any_db, "1931") == 381200
    movement(store, "CAPTURE", 381200, reference_of(any_db))
    data = settlement_file(store)
    result = import_settlement(any_db, admin, data, "resurs.csv")
    assert [o.status for o in result.outcomes] == ["booked"]
    # 0,9 % of 3 812,00 = 34,308 → 34,31 fee; net 3 777,69 to the bank
    assert rows_of(any_db) == [[("1930", 377769), ("6064", 3431), ("1931", -381200)]]
    [payout] = [v for v in iter_verifications(any_db) if v.kind == "settlement"]
    assert payout.booked_on == PAYOUT
    assert balance(any_db, "1931") == 0
    again = import_settlement(any_db, admin, data, "resurs.csv")
    assert [o.status for o in again.outcomes] == ["already_booked"]
    assert again.verification_numbers == [] and len(rows_of(any_db)) == 1


def test_unmatched_and_mismatched_lines_are_reported_not_booked(db, admin, provider, store):
    number = paid_by_mobile(db, admin, provider)
    reference = reference_of(db)
    movement(store, "CAPTURE", 381200, reference)
    outcome = import_settlement(db, admin, settlement_file(store), "r.csv").outcomes
    assert [(o.status, o.reason) for o in outcome] == [
        ("unmatched", "the payment's order is not posted yet")
    ]
    post_order(db, admin, number)
    store.reset()
    movement(store, "CAPTURE", 381100, reference)  # not what was captured
    store.add_transaction(
        "resurs",
        PAID_AT,
        {"kind": "CAPTURE", "payment_id": "x", "merchant_ref": "x", "human_ref": "nobody",
         "amount_minor": 500, "currency": "SEK"},
    )  # fmt: skip
    outcome = import_settlement(db, admin, settlement_file(store), "r.csv").outcomes
    assert [o.status for o in outcome] == ["mismatched", "unmatched"]
    assert "captured" in outcome[0].reason
    assert rows_of(db) == [] and balance(db, "1931") == 381200
    store.reset()
    movement(store, "CAPTURE", 381200, reference)  # now right: booked on this import
    result = import_settlement(db, admin, settlement_file(store), "r.csv")
    assert [o.status for o in result.outcomes] == ["booked"]
    assert balance(db, "1931") == 0


def test_payout_whose_total_row_disagrees_books_nothing(db, admin, provider, store):
    post_order(db, admin, paid_by_mobile(db, admin, provider))
    movement(store, "CAPTURE", 381200, reference_of(db))
    lines = settlement_file(store).decode().splitlines()
    lines[-1] = lines[-1].replace("3777.69", "3700.00")  # the PAYOUT row
    outcome = import_settlement(db, admin, ("\n".join(lines) + "\n").encode(), "r.csv").outcomes
    assert [(o.status, o.reason) for o in outcome] == [
        ("mismatched", "the payout's total row does not match its lines")
    ]
    assert rows_of(db) == []


def test_vat_on_the_fee_goes_to_2641(db, admin, provider):
    post_order(db, admin, paid_by_mobile(db, admin, provider))
    header = ";".join(FORMATS["resurs"].header)
    ref = reference_of(db)
    line = f"RE1;2025-03-17;SEK;2025-03-14 10:00:00;DEBITERING;fake-1;O1;{ref}"
    data = f"{header}\n{line};3812.00;40.00;10.00;3762.00\n".encode()
    import_settlement(db, admin, data, "r.csv")
    assert rows_of(db) == [[("1930", 376200), ("6064", 4000), ("2641", 1000), ("1931", -381200)]]


def test_refund_after_a_credit_note_is_settled_too(db, admin, provider, store):
    number = paid_by_mobile(db, admin, provider)
    post_order(db, admin, number)
    credit_order(db, provider, admin, number)
    assert balance(db, "1931") == 0  # posted + credited
    movement(store, "CAPTURE", 381200, reference_of(db))
    movement(store, "REFUND", 381200, reference_of(db))
    result = import_settlement(db, admin, settlement_file(store), "r.csv")
    assert [o.status for o in result.outcomes] == ["booked", "booked"]
    assert rows_of(db) == [
        [("1930", 377769), ("6064", 3431), ("1931", -381200), ("1930", -381200), ("1931", 381200)]
    ]
    assert balance(db, "1931") == 0 and balance(db, "1930") == -3431


@pytest.mark.parametrize(
    ("name", "kind"),
    [("vipps", "CAPTURE"), ("swish", "PAYMENT"), ("stripe", "PAYMENT"), ("resurs", "CAPTURE")],
)
def test_every_sandbox_format_is_read(store, name, kind):
    movement(store, kind, 12345, "2025-03-14 10:00:00", provider=name)
    movement(store, "REFUND", 2345, "2025-03-14 10:00:00", provider=name)
    day = {"vipps": date(2025, 3, 18), "swish": date(2025, 3, 14), "stripe": date(2025, 3, 21)}
    payout = day.get(name, PAYOUT)
    parsed = read_report(report(store, name, payout, payout).encode())
    assert parsed.provider == name
    assert [(x.kind, x.gross, x.reference) for x in parsed.lines] == [
        ("payment", 12345, "2025-03-14 10:00:00"),
        ("refund", -2345, "2025-03-14 10:00:00"),
        ("payout", 10000, ""),
    ]
    assert all(x.net == x.gross - x.fee - x.fee_vat and x.currency == "SEK" for x in parsed.lines)


def test_unknown_files_and_users_are_refused(db):
    with pytest.raises(ValidationError, match="header row"):
        read_report(b"a;b;c\n1;2;3\n")
    with pytest.raises(PermissionDenied):
        import_settlement(db, Actor("kalle", Role.STAFF), b"", "x.csv")
