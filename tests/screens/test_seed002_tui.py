"""The seed-002 workflow with the keyboard alone, against the sandbox; and snapshots."""

from __future__ import annotations

import pytest
from freezegun import freeze_time
from textual.widgets import Button, DataTable, Input

from tests.helpers import customer, order_with_lines
from tests.screens.conftest import wait_until
from verkstad.clock import format_datetime, today
from verkstad.mpay.status import PaymentState as P
from verkstad.orders import service
from verkstad.orders.status import OrderStatus
from verkstad.screens.dialogs import ConfirmDialog
from verkstad.screens.order_form import OrderScreen
from verkstad.screens.order_list import OrderListScreen
from verkstad.screens.send_dialog import SendDialog


def _klart_order(db, admin) -> int:
    number = order_with_lines(db, admin, customer(db, admin, "Åsa Öberg", "070-123 45 67")).number
    service.complete(db, admin, number)
    return number


async def _open_order(app, pilot) -> OrderScreen:
    await wait_until(
        pilot,
        lambda: (
            isinstance(app.screen, OrderListScreen)
            and app.screen.query_one("#orders", DataTable).row_count >= 1
        ),
    )
    await pilot.press("enter")
    await wait_until(
        pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen.order is not None
    )
    return app.screen


async def _send(app, pilot, screen: OrderScreen) -> str:
    await pilot.press("ctrl+s")
    await wait_until(
        pilot,
        lambda: (
            isinstance(app.screen, SendDialog)
            and not app.screen.query_one("#generate", Button).disabled
        ),
    )
    await pilot.press("f10")
    await wait_until(
        pilot, lambda: app.screen is screen and screen.order.status == OrderStatus.MPAY
    )
    return screen.payment.reference


async def _pay(app, pilot, screen: OrderScreen, sandbox) -> None:
    sandbox.act(screen.payment.reference, "approve")
    await pilot.press("ctrl+l")
    await wait_until(pilot, lambda: screen.payment.state in (P.RESERVED, P.PAID))
    if screen.payment.state == P.RESERVED:
        await pilot.press("ctrl+t")
    await wait_until(pilot, lambda: screen.order.payment_received, "paid")


async def _confirm(app, pilot) -> None:
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
    await pilot.click("#yes")


async def test_send_pay_post_and_find_it_by_received_time(db, admin, make_app, settings, sandbox):
    order = _klart_order(db, admin)
    app = make_app(sandbox_url=settings.sandbox_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_order(app, pilot)
        await _send(app, pilot, screen)
        await _pay(app, pilot, screen, sandbox)
        await pilot.press("ctrl+b")  # Bokför
        await wait_until(pilot, lambda: screen.order.status == OrderStatus.POSTED, "posted")
        assert screen.order.invoice_number is not None and screen.has_class("locked")
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, OrderListScreen))
        listing = app.screen
        table = listing.query_one("#orders", DataTable)
        day = today().isoformat()
        listing.query_one("#received-from", Input).value = day
        listing.query_one("#received-to", Input).value = day
        await wait_until(
            pilot, lambda: table.row_count == 1 and str(table.get_row_at(0)[0]) == str(order)
        )
        row = [str(c) for c in table.get_row_at(0)]
        received = service.get_order(db, order).payment_received_at
        assert row[7] == "✓" and row[8] == format_datetime(received)  # mottagen, and when


async def test_cancel_before_payment_opens_the_order_and_kills_the_link(
    db, admin, make_app, settings, sandbox
):
    order = _klart_order(db, admin)
    app = make_app(sandbox_url=settings.sandbox_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_order(app, pilot)
        reference = await _send(app, pilot, screen)
        await pilot.press("ctrl+u")
        await _confirm(app, pilot)
        await wait_until(pilot, lambda: screen.order.status == OrderStatus.DONE, "open again")
        assert not screen.has_class("locked") and screen.check_action("add_line", ()) is True
    from verkstad.sandbox.core import SandboxError

    with pytest.raises(SandboxError):
        sandbox.act(reference, "approve")
    assert service.get_order(db, order).status == OrderStatus.DONE


async def test_cancel_after_payment_refunds(db, admin, make_app, settings, sandbox):
    order = _klart_order(db, admin)
    app = make_app(sandbox_url=settings.sandbox_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_order(app, pilot)
        await _send(app, pilot, screen)
        await _pay(app, pilot, screen, sandbox)
        await pilot.press("ctrl+u")
        await _confirm(app, pilot)
        await wait_until(pilot, lambda: screen.order.status == OrderStatus.DONE, "open again")
        assert screen.payment.state == P.REFUNDED
    result = service.get_order(db, order)
    assert (result.payment_received, result.payment_method) == (False, None)


def _snapshot_data(db, admin) -> None:
    with freeze_time("2026-03-05 09:00:00"):
        for name, phone in (("Åsa Öberg", "070-123 45 67"), ("Bo Ek", "073-555 12 34")):
            order_with_lines(db, admin, customer(db, admin, name, phone))
        service.complete(db, admin, 1001)


def test_snapshot_order_list(db, admin, make_app, snap_compare):
    _snapshot_data(db, admin)

    async def loaded(pilot) -> None:
        await wait_until(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, OrderListScreen)
                and pilot.app.screen.query_one("#orders", DataTable).row_count == 2
            ),
        )

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=loaded)


def test_snapshot_order(db, admin, make_app, snap_compare):
    _snapshot_data(db, admin)

    async def opened(pilot) -> None:
        await wait_until(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, OrderListScreen)
                and pilot.app.screen.query_one("#orders", DataTable).row_count == 2
            ),
        )
        await pilot.press("down", "enter")
        await wait_until(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, OrderScreen) and pilot.app.screen.order is not None
            ),
        )

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=opened)
