"""SMS gateway client (46elks-style ``POST /a1/sms`` with from / to / message, basic auth).

For providers that do not text the customer themselves (Stripe's link). The
``Idempotency-Key`` header carries the outbox's dedupe key, so a resend after
a crash does not text the customer twice (the gateway must honour it; the
sandbox's does).
"""

from __future__ import annotations

from verkstad.config import Settings
from verkstad.i18n import _
from verkstad.mpay.providers import http
from verkstad.mpay.providers.base import ProviderRefused, ProviderUnavailable

LABEL = "SMS gateway"


class SmsGateway:
    def __init__(self, settings: Settings) -> None:
        cfg = settings.sms
        self._sender = cfg.sender
        self._http = http.make_client(
            settings.provider_url("sms"),
            settings.http_timeout_seconds,
            auth=(cfg.username, cfg.password.get_secret_value()),
        )

    def close(self) -> None:
        self._http.close()

    def send(self, to_e164: str, message: str, dedupe_key: str) -> str:
        """Text ``message`` to ``to_e164``; returns the gateway's message id."""
        response = http.send(
            self._http,
            LABEL,
            "POST",
            "/a1/sms",
            data={"from": self._sender, "to": to_e164, "message": message},
            headers={"Idempotency-Key": dedupe_key},
        )
        http.refuse_credentials(response, LABEL)
        if response.status_code != 200:
            raise ProviderRefused(
                _("The SMS gateway refused the message to {number}: {detail}").format(
                    number=to_e164, detail=response.text[:200]
                ),
                str(response.status_code),
            )
        data = http.read_json(response, LABEL)
        if not isinstance(data, dict) or not data.get("id"):
            raise ProviderUnavailable(_("The SMS gateway sent an answer that could not be read."))
        return str(data["id"])
