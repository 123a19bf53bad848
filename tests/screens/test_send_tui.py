"""Ctrl+S on a KLART order: the send dialog, against the sandbox, as staff use it."""

from textual.widgets import Button, DataTable, Input, Static

from tests.helpers import customer, order_with_lines
from tests.screens.conftest import wait_until
from verkstad.orders import service
from verkstad.orders.status import OrderStatus
from verkstad.screens.order_form import OrderScreen
from verkstad.screens.send_dialog import SendDialog


async def test_ctrl_s_sends_and_locks_then_ctrl_l_finds_it_paid(
    db, admin, make_app, settings, sandbox
):
    order = order_with_lines(db, admin, customer(db, admin, phone="070-123 45 67")).number
    service.complete(db, admin, order)
    app = make_app(sandbox_url=settings.sandbox_url)
    async with app.run_test(size=(120, 40)) as pilot:
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
        screen = app.screen
        await pilot.press("ctrl+s")
        await wait_until(
            pilot, lambda: isinstance(app.screen, SendDialog) and bool(app.screen.channels)
        )
        dialog = app.screen
        generate = dialog.query_one("#generate", Button)
        assert not generate.disabled  # one channel, the customer's phone: ready to send
        dialog.query_one("#phone", Input).value = "070-12"
        await wait_until(pilot, lambda: generate.disabled, "the button disabled")
        assert "Mobile phone" in str(dialog.query_one("#send-reason", Static).render())
        dialog.query_one("#phone", Input).focus()
        await pilot.press("enter")  # Enter sends only a complete form
        await pilot.pause()
        assert app.screen is dialog and service.get_order(db, order).status == OrderStatus.DONE
        dialog.query_one("#phone", Input).value = "070-123 45 67"
        dialog.query_one("#explanation", Input).value = "Bromsar fram"
        await wait_until(pilot, lambda: not generate.disabled)
        await pilot.press("enter")  # in the phone field: Skapa betalning
        await wait_until(
            pilot,
            lambda: (
                app.screen is screen
                and screen.order is not None
                and screen.order.status == OrderStatus.MPAY
            ),
            "the order locked",
        )
        assert screen.has_class("locked")
        reference = screen.payment.reference
        sandbox.act(reference, "approve")
        await pilot.press("ctrl+l")
        await wait_until(
            pilot, lambda: screen.payment is not None and screen.payment.state.value == "RESERVED"
        )
        await pilot.press("ctrl+t")  # capture now
        await wait_until(
            pilot, lambda: screen.order is not None and screen.order.payment_received, "paid"
        )
        assert "Mobile payment" in str(screen.query_one("#payment-status", Static).render())
        banner = str(screen.query_one("#lock-banner", Static).render())
        assert banner.startswith("Payment received: post the order next")
    assert service.get_order(db, order).payment_method == "MOBIL"
