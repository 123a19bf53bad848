"""F7 on a posted order: preview the e-mail, save the PDF to open it, send once."""

from textual.widgets import Static

from tests.ledger.builders import klart
from tests.screens.conftest import wait_until
from verkstad.ledger.posting import post_order
from verkstad.mpay.notify import messages_for_order
from verkstad.screens.invoice_mail import InvoiceMailDialog
from verkstad.screens.order_form import OrderScreen


async def test_f7_previews_saves_the_pdf_and_sends_once(db, admin, make_app, tmp_path):
    order = klart(db, admin)  # the helper's customer has an e-mail address
    post_order(db, admin, order)
    app = make_app(printing={"folder": str(tmp_path / "print")})
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(OrderScreen(order))
        await wait_until(pilot, lambda: getattr(app.screen, "order", None) is not None)
        screen = app.screen

        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, InvoiceMailDialog), "preview")
        head = str(app.screen.query_one("#mail-head", Static).render())
        assert "anna@example.se" in head and "faktura-1.pdf" in head
        await pilot.press("p")
        saved = tmp_path / "print" / "faktura-1.pdf"
        await wait_until(pilot, saved.exists, "the PDF on disk")
        assert saved.read_bytes().startswith(b"%PDF")
        assert str(saved) in str(app.screen.query_one("#pdf-path", Static).render())

        await pilot.press("enter")  # Send
        await wait_until(pilot, lambda: app.screen is screen, "back on the order")
        await wait_until(pilot, lambda: any("queued" in n.message for n in app._notifications))
        await wait_until(pilot, lambda: len(screen.messages) == 1, "the message on Billing")
        billing = str(screen.query_one("#billing", Static).render())
        assert "Waiting" in billing and "anna@example.se" in billing

        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, InvoiceMailDialog))
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: any("already been e-mailed" in n.message for n in app._notifications)
        )
    assert len(messages_for_order(db, order)) == 1
