"""Betalningar (F3): Mina / Alla, the role-gated actions, cancel, history and the CSV export.

The screens are imported inside the tests, not at collection: their key labels are
translated when their module is imported, and the tests read English.
"""

import csv
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from textual.widgets import DataTable, Input

from tests.helpers import customer, order_with_lines
from tests.mpay.only_channel import use_only_channel
from tests.screens.conftest import wait_until
from verkstad.config import data_dir
from verkstad.mpay.models import PaymentChannel, PaymentRequest
from verkstad.mpay.payments import get_payment
from verkstad.mpay.service import SendForm, request_payment
from verkstad.mpay.status import PaymentState
from verkstad.orders.models import Customer, Order
from verkstad.users import Actor, Role

SENT = datetime(2026, 3, 5, 13, 7, tzinfo=UTC)  # 14:07 in Stockholm


@pytest.fixture(autouse=True)
def _no_debounce(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("verkstad.screens.payments.DEBOUNCE_SECONDS", 0.001)


def payment(
    db,
    customer_number: int,
    sent_by: str,
    reference: str,
    state: PaymentState = PaymentState.PAID,
    amount_minor: int = 123_450,
    order_number: int | None = None,
    **fields,
) -> int:
    """A payment request row as the provider left it, without a provider."""
    paid = state in (PaymentState.PAID, PaymentState.REFUNDED)
    fields = {"read_at": SENT if paid else None, **fields}  # read: no "payment received" notices
    with db.session() as s:
        channel = s.exec(select(PaymentChannel)).first()
        cust = s.exec(select(Customer).where(Customer.number == customer_number)).one()
        order = s.exec(select(Order).where(Order.number == order_number)).first()
        req = PaymentRequest(
            reference=reference,
            idempotency_key=uuid.uuid4().hex,
            customer_id=cust.id,
            channel_id=channel.id,
            order_id=order.id if order else None,
            provider="resurs",
            state=state,
            amount_minor=amount_minor,
            currency="SEK",
            created_by=sent_by,
            sent_at=SENT,
            paid_at=SENT + timedelta(minutes=4) if paid else None,
            **fields,
        )
        s.add(req)
        s.flush()
        return req.id


def references(app) -> list[str]:
    table = app.screen.query_one("#payment-table", DataTable)
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


async def open_payments(app, pilot, rows: int) -> None:
    await pilot.press("f3")
    await wait_until(
        pilot,
        lambda: type(app.screen).__name__ == "PaymentsScreen" and len(app.screen.payments) == rows,
        f"{rows} payments listed",
    )


def notified(app, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


async def test_mine_shows_my_payments_and_all_shows_everyones(db, admin, make_app):
    number = customer(db, admin)
    payment(db, number, "admin", "A-1")
    payment(db, number, "eva", "E-1")
    payment(db, number, "admin", "A-2", PaymentState.SENT)
    app = make_app(actor=Actor("admin", Role.ADMIN))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_payments(app, pilot, 2)
        assert app.screen.title == "My payments"
        assert references(app) == ["A-2", "A-1"]
        icons = [str(app.screen.query_one(DataTable).get_row_at(i)[0]) for i in range(2)]
        assert icons == ["…", "✔"]

        await pilot.press("f4")
        await wait_until(pilot, lambda: references(app) == ["A-2", "E-1", "A-1"], "all payments")
        assert app.screen.title == "All payments"
        labels = [str(c.label) for c in app.screen.query_one(DataTable).columns.values()]
        assert "Sent by" in labels and "Read" not in labels

        await pilot.press("f4")
        await wait_until(pilot, lambda: references(app) == ["A-2", "A-1"], "mine again")


async def test_consolidate_is_hidden_for_staff(db, admin, make_app):
    request_id = payment(db, customer(db, admin), "olle", "O-1")
    app = make_app(actor=Actor("olle", Role.STAFF))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_payments(app, pilot, 1)
        assert app.screen.check_action("consolidate", ()) is False
        assert "consolidate" not in {b.binding.action for b in app.active_bindings.values()}
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert get_payment(db, request_id).consolidated_at is None


async def test_a_payment_manager_consolidates(db, admin, make_app):
    request_id = payment(db, customer(db, admin), "olle", "O-1")
    app = make_app(actor=Actor("eva", Role.PAYMENT_MANAGER))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_payments(app, pilot, 1)  # the bookkeeper starts on Alla
        assert app.screen.title == "All payments"
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: notified(app, "Payment O-1 consolidated."))
        view = get_payment(db, request_id)
        assert view.consolidated_by == "eva" and view.consolidated_at is not None
        await wait_until(pilot, lambda: app.screen.check_action("consolidate", ()) is None)


async def test_marking_another_users_payment_as_read_is_refused(db, admin, make_app):
    number = customer(db, admin)
    theirs = payment(db, number, "eva", "E-1", read_at=None)
    mine = payment(db, number, "admin", "A-1", read_at=None)
    app = make_app(poll_interval_seconds=3600)  # no "payment received" notices
    async with app.run_test(size=(120, 40)) as pilot:
        await open_payments(app, pilot, 1)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: get_payment(db, mine).read, "mine marked as read")

        await pilot.press("f4")
        await wait_until(pilot, lambda: references(app) == ["A-1", "E-1"], "all payments")
        await pilot.press("down", "ctrl+r")
        await wait_until(
            pilot, lambda: notified(app, "Only eva, who sent payment E-1, can mark it as read.")
        )
        assert not get_payment(db, theirs).read


async def test_cancel_an_open_free_request_and_see_its_history(db, admin, make_app, sandbox):
    use_only_channel(db, admin, "swish")
    app = make_app(sandbox_url=sandbox.url)
    sent = request_payment(
        db, app.providers, admin, customer(db, admin), SendForm(amount="500", reference="D-1")
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await open_payments(app, pilot, 1)
        await pilot.press("ctrl+u")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog")
        await pilot.press("enter")  # Yes
        await wait_until(pilot, lambda: notified(app, "Payment request D-1 is cancelled."))
        assert get_payment(db, sent.id).state == PaymentState.CANCELLED

        await wait_until(pilot, lambda: type(app.screen).__name__ == "PaymentsScreen")
        await pilot.press("f6")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HistoryDialog")
        table = app.screen.query_one(DataTable)
        kinds = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        assert kinds == ["created", "sent to the provider", "cancellation asked for", "cancelled"]


async def test_export_writes_what_swedish_excel_opens(db, admin, make_app):
    number = customer(db, admin)
    payment(db, number, "admin", "=HYPERLINK(1)", amount_minor=123_450)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_payments(app, pilot, 1)
        await pilot.press("f7")
        await wait_until(pilot, lambda: notified(app, "exported to"), "the export")
    [path] = (data_dir() / "exports").iterdir()
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
    header, row = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert {"Reference", "Order", "Status", "Amount"} <= set(header)
    assert row["Reference"] == "'=HYPERLINK(1)"  # a formula cell is neutralised
    assert row["Amount"] == "1234,50"


def test_snapshot(db, admin, make_app, snap_compare):
    anna = customer(db, admin, "Anna Andersson")
    bo = customer(db, admin, "Bo Ek", "073-555 12 34")
    order = order_with_lines(db, admin, anna).number
    payment(
        db,
        anna,
        "admin",
        "2026-03-05 14:07:00",
        PaymentState.PAID,
        381_200,
        order,
        consolidated_at=SENT + timedelta(days=2),
        consolidated_by="eva",
    )
    payment(db, bo, "admin", "Handpenning Volvo", failed_attempts=1, amount_minor=500_000)
    payment(db, anna, "admin", "2026-03-05 15:30:10", PaymentState.DECLINED)
    payment(db, bo, "admin", "2026-03-05 16:00:00", PaymentState.EXPIRED)
    payment(db, bo, "admin", "2026-03-06 09:12:44", PaymentState.CANCELLED)
    payment(db, anna, "admin", "2026-03-06 10:00:00", PaymentState.REFUNDED)
    payment(db, bo, "admin", "2026-03-07 08:00:00", PaymentState.SENT)

    async def run_before(pilot) -> None:
        await open_payments(pilot.app, pilot, 7)

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=run_before)


async def test_the_history_shows_whether_the_payment_link_reached_the_customer(
    db, admin, make_app, sandbox
):
    from verkstad.mpay.notify import deliver_pending, messages_for_payment
    from verkstad.mpay.senders import senders

    use_only_channel(db, admin, "stripe")  # a link, sent by SMS
    app = make_app(sandbox_url=sandbox.url)
    sent = request_payment(
        db, app.providers, admin, customer(db, admin), SendForm(amount="500", reference="L-1")
    )
    [queued] = messages_for_payment(db, sent.id)
    assert (queued.channel, queued.state, queued.state_label) == ("sms", "PENDING", "Waiting")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_payments(app, pilot, 1)
        await pilot.press("f6")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HistoryDialog")
        table = app.screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
    assert [r[2:4] for r in rows if r[2] == "SMS"] == [["SMS", "Waiting"]]
    assert [r[2] for r in rows[:2]] == ["created", "sent to the provider"]  # not the raw kinds
    assert rows[-1][4] == queued.recipient
    assert deliver_pending(db, senders(app.settings)) == 1
    assert [m.state_label for m in messages_for_payment(db, sent.id)] == ["Sent"]


async def test_a_letter_in_the_customer_number_is_refused_with_a_word(db, admin, make_app):
    number = customer(db, admin)
    payment(db, number, "admin", "A-1")
    app = make_app(actor=Actor("admin", Role.ADMIN))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_payments(app, pilot, 1)
        field = app.screen.query_one("#payment-customer", Input)
        field.focus()
        await pilot.press("1", "x", "0")
        await pilot.pause()
        assert field.value == "10"
        assert notified(app, "Cust. no.: only digits are allowed")
