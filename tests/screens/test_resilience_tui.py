"""Keys users moved, drafts kept, and an unreachable provider: a message, never a traceback."""

from __future__ import annotations

from textual.widgets import Button, DataTable, Input

from tests.helpers import customer, order_with_lines
from tests.screens.conftest import wait_until
from verkstad.mpay.payments import load_draft
from verkstad.orders import service
from verkstad.orders.status import OrderStatus
from verkstad.screens.order_form import OrderScreen
from verkstad.screens.send_dialog import SendDialog


def _klart(db, admin) -> int:
    number = order_with_lines(db, admin, customer(db, admin, phone="070-123 45 67")).number
    service.complete(db, admin, number)
    return number


async def _open(app, pilot) -> OrderScreen:
    await wait_until(
        pilot,
        lambda: (
            app.screen.query("#orders")
            and app.screen.query_one("#orders", DataTable).row_count == 1
        ),
    )
    await pilot.press("enter")
    await wait_until(
        pilot, lambda: isinstance(app.screen, OrderScreen) and app.screen.order is not None
    )
    return app.screen


async def test_a_key_moved_in_the_config_file_works(db, admin, make_app):
    number = order_with_lines(db, admin).number
    app = make_app(keys={"complete": "f12"})  # e.g. because Ctrl+K is taken by the terminal
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot)
        await pilot.press("ctrl+k")  # the old key does nothing now
        await pilot.pause()
        assert service.get_order(db, number).status == OrderStatus.OPEN
        await pilot.press("f12")
        await wait_until(pilot, lambda: screen.order.status == OrderStatus.DONE)


async def test_leaving_the_send_form_keeps_a_draft(db, admin, make_app, settings):
    number = _klart(db, admin)
    app = make_app(sandbox_url=settings.sandbox_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await _open(app, pilot)
        await pilot.press("ctrl+s")
        await wait_until(
            pilot, lambda: isinstance(app.screen, SendDialog) and bool(app.screen.channels)
        )
        app.screen.query_one("#explanation", Input).value = "Bromsar fram, halvklart"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SendDialog))
        await wait_until(pilot, lambda: load_draft(db, admin, f"order:{number}") is not None)
        await pilot.press("ctrl+s")  # back later: the text is still there
        await wait_until(
            pilot, lambda: isinstance(app.screen, SendDialog) and bool(app.screen.channels)
        )
        await wait_until(
            pilot,
            lambda: app.screen.query_one("#explanation", Input).value == "Bromsar fram, halvklart",
        )


async def test_an_unreachable_provider_is_a_message_and_the_order_stays_safe(db, admin, make_app):
    number = _klart(db, admin)
    app = make_app(sandbox_url="http://127.0.0.1:9", http_timeout_seconds=2)  # nothing listens
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot)
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
            pilot, lambda: any("did not answer" in n.message for n in app._notifications)
        )
        assert app.is_running
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        await screen.reload()
        # Kept as sent-but-unconfirmed: locked until reconcile asks the provider, never resent.
        assert screen.order.status == OrderStatus.MPAY
    assert service.get_order(db, number).status == OrderStatus.MPAY


async def test_the_sender_is_told_when_a_request_is_paid_or_ends_unpaid(
    db, admin, make_app, settings, sandbox
):
    from verkstad.mpay import service as mpay
    from verkstad.mpay.gateway import Providers

    providers = Providers(settings)
    declined = order_with_lines(db, admin, customer(db, admin, "Bo Ek", "070-129 99 03")).number
    paid = _klart(db, admin)
    service.complete(db, admin, declined)
    app = make_app(sandbox_url=settings.sandbox_url)
    async with app.run_test(size=(120, 40)) as pilot:
        for order in (declined, paid):
            view = mpay.send(db, providers, admin, order)
        sandbox.act(view.reference, "approve")
        for order in (declined, paid):
            if mpay.check(db, providers, admin, order).state.value == "RESERVED":
                mpay.capture(db, providers, admin, order)
        await app._notify_sender()
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any(f"order {paid}" in m and "Payment received" in m for m in messages)
        assert any(f"order {declined}" in m and "can be sent again" in m for m in messages)
        await app._notify_sender()  # told once, not at every poll
        assert len(app._notifications) == len(messages)
    providers.close()
