"""Small HTML pages: the customers' phones, Stripe's checkout page and Resurs' payment page.

Opening a payment page is the customer opening the link; its buttons are
the customer's other actions. Everything here is also available as JSON
under ``/_sandbox`` and ``/phone/{number}``.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from verkstad.i18n import _
from verkstad.sandbox.core import Action, Sandbox, SandboxError
from verkstad.sandbox.resurs import PAY_PAGE
from verkstad.sandbox.scenarios import DESCRIPTIONS, digits, scenario_for
from verkstad.sandbox.store import Payment
from verkstad.sandbox.stripe import CHECKOUT_PATH

STYLE = (
    "body{font-family:sans-serif;max-width:46em;margin:1em auto;padding:0 1em}"
    ".msg{border:1px solid #ccc;border-radius:.6em;padding:.5em .8em;margin:.5em 0}"
    ".meta{color:#666;font-size:.85em}form{display:inline}button{margin:.2em}"
)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>",
        status,
    )


def buttons(p: Payment, back: str, choices: list[tuple[str, str, str]]) -> str:
    """Forms posting customer actions: (action, method, label)."""
    out = []
    for action, method, label in choices:
        out.append(
            "<form method='post' action='/phone/act'>"
            f"<input type='hidden' name='reference' value='{escape(p.id)}'>"
            f"<input type='hidden' name='action' value='{action}'>"
            f"<input type='hidden' name='method' value='{method}'>"
            f"<input type='hidden' name='back' value='{escape(back)}'>"
            f"<button>{escape(label)}</button></form>"
        )
    return "".join(out)


class Pages:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/phone", self.phone, methods=["GET"]),
            Route("/phone/act", self.act, methods=["POST"]),
            Route(f"{CHECKOUT_PATH}{{id}}", self.checkout, methods=["GET"]),
            Route(f"{PAY_PAGE}{{id}}", self.resurs_page, methods=["GET"]),
        ]

    def _choices(self, p: Payment) -> list[tuple[str, str, str]]:
        approve = [(Action.APPROVE.value, "", _("Approve"))]
        if p.provider == "resurs":
            approve = [
                (Action.APPROVE.value, "full", _("Pay in full")),
                (Action.APPROVE.value, "invoice", _("Invoice")),
                (Action.APPROVE.value, "part_payment", _("Part payment")),
                (Action.APPROVE.value, "instalments", _("4 instalments")),
            ]
        return [
            (Action.OPEN.value, "", _("Open")),
            (Action.START.value, "", _("Start entering details")),
            *approve,
            (Action.DECLINE.value, "", _("Decline")),
            (Action.EXPIRE.value, "", _("Let it expire")),
        ]

    def _payment_html(self, p: Payment, back: str) -> str:
        s = self.sb.emulators[p.provider].summary(p)
        html = (
            f"<div class='meta'>{escape(p.provider)} · {escape(s['reference'])} · "
            f"{escape(s['amount'])} · <b>{escape(s['state'])}</b> {escape(s['customer'])}</div>"
        )
        if p.live:
            html += buttons(p, back, self._choices(p))
        return html

    async def phone(self, request: Request) -> Response:
        wanted = digits(request.query_params.get("number", ""))
        messages = self.sb.store.messages(wanted or None)
        if not messages:
            return page(_("Phones"), f"<p>{escape(_('No messages yet.'))}</p>")
        numbers = sorted({m["number"] for m in messages})
        body = ""
        for number in numbers:
            back = f"/phone?number={quote(number)}"
            scenario = scenario_for(number)
            body += (
                f"<h2><a href='{back}'>+{escape(number)}</a></h2>"
                f"<p class='meta'>{escape(_(DESCRIPTIONS[scenario]))}</p>"
            )
            for m in reversed([m for m in messages if m["number"] == number]):
                link = (
                    f" <a href='{escape(m['link'])}'>{escape(m['link'])}</a>" if m["link"] else ""
                )
                body += (
                    f"<div class='msg'><div class='meta'>{escape(m['at'][:19])} · "
                    f"{escape(m['provider'])} {escape(m['kind'])}</div>{escape(m['text'])}{link}"
                )
                p = self.sb.store.payment(m["provider"], m["payment_id"] or "")
                if p is not None:
                    body += self._payment_html(p, back)
                body += "</div>"
        return page(_("Phones"), body)

    async def act(self, request: Request) -> Response:
        form = await request.form()
        back = str(form.get("back") or "/phone")
        if not back.startswith("/"):
            back = "/phone"
        try:
            self.sb.act(
                str(form.get("reference", "")),
                Action(str(form.get("action"))),
                str(form.get("method") or "") or None,
            )
        except (SandboxError, ValueError) as e:
            return page(_("Not possible"), f"<p>{escape(str(e))}</p><a href='{back}'>←</a>", 409)
        return RedirectResponse(back, 303)

    async def checkout(self, request: Request) -> Response:
        return self._pay_page(request, "stripe", _("Checkout"))

    async def resurs_page(self, request: Request) -> Response:
        return self._pay_page(request, "resurs", _("Resurs Bank: choose how to pay"))

    def _pay_page(self, request: Request, provider: str, title: str) -> Response:
        p = self.sb.store.payment(provider, request.path_params["id"])
        if p is None:
            return page(_("Not found"), f"<p>{escape(_('This link is not valid.'))}</p>", 404)
        if p.live and p.extra.get("customer") is None:
            try:
                p = self.sb.act(p.id, Action.OPEN)
            except SandboxError:
                pass  # a customer who never answers does not open it either
        back = request.url.path
        return page(title, self._payment_html(p, back))
