"""The customers' e-mail inboxes: what the sandbox's SMTP server received.

``GET /inbox`` (HTML, ``?address=`` to filter) lists the mails per address with
their attachments to download; ``GET /inbox/{address}`` is the same as JSON
(attachments with their size and download URL, not their bytes).
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from verkstad.i18n import _
from verkstad.sandbox.core import Sandbox
from verkstad.sandbox.pages import page
from verkstad.sandbox.wire import json_response


def attachment_url(mail: dict[str, Any], index: int) -> str:
    return f"/inbox/attachments/{mail['seq']}/{index}"


def public(mail: dict[str, Any]) -> dict[str, Any]:
    """A mail as the JSON inbox shows it: attachments by name, size and URL."""
    attachments = [
        {k: v for k, v in a.items() if k != "data"} | {"url": attachment_url(mail, i)}
        for i, a in enumerate(mail["attachments"])
    ]
    return {**mail, "attachments": attachments}


class Inbox:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/inbox", self.page, methods=["GET"]),
            Route("/inbox/attachments/{seq:int}/{index:int}", self.attachment, methods=["GET"]),
            Route("/inbox/{address}", self.json, methods=["GET"]),
        ]

    async def json(self, request: Request) -> Response:
        address = request.path_params["address"].lower()
        mails = [public(m) for m in self.sb.store.mails(address)]
        return json_response({"address": address, "mails": mails})

    async def attachment(self, request: Request) -> Response:
        seq, index = request.path_params["seq"], request.path_params["index"]
        mail = next((m for m in self.sb.store.mails() if m["seq"] == seq), None)
        if mail is None or index >= len(mail["attachments"]):
            return page(_("Not found"), f"<p>{escape(_('There is no such attachment.'))}</p>", 404)
        a = mail["attachments"][index]
        disposition = f"attachment; filename*=UTF-8''{quote(a['name'])}"
        return Response(
            base64.b64decode(a["data"]),
            media_type=a["content_type"],
            headers={"content-disposition": disposition},
        )

    async def page(self, request: Request) -> Response:
        wanted = request.query_params.get("address", "").lower()
        mails = self.sb.store.mails(wanted or None)
        if not mails:
            return page(_("Inbox"), f"<p>{escape(_('No e-mails yet.'))}</p>")
        body = ""
        for address in sorted({m["address"] for m in mails}):
            body += f"<h2><a href='/inbox?address={quote(address)}'>{escape(address)}</a></h2>"
            for m in reversed([m for m in mails if m["address"] == address]):
                body += self._mail_html(m)
        return page(_("Inbox"), body)

    def _mail_html(self, m: dict[str, Any]) -> str:
        links = "".join(
            f"<div><a href='{attachment_url(m, i)}'>{escape(a['name'] or _('attachment'))}</a>"
            f" <span class='meta'>({a['size']} B)</span></div>"
            for i, a in enumerate(m["attachments"])
        )
        return (
            f"<div class='msg'><div class='meta'>{escape(m['at'][:19])} · "
            f"{escape(_('From'))}: {escape(m['from'])}</div>"
            f"<b>{escape(m['subject'])}</b><pre>{escape(m['text'])}</pre>{links}</div>"
        )
