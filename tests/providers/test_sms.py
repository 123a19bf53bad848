"""The SMS gateway client against the sandbox's gateway."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from verkstad.config import Settings
from verkstad.mpay.providers.base import ProviderRefused, ProviderUnavailable
from verkstad.mpay.providers.sms import SmsGateway
from verkstad.sandbox.testing import RunningSandbox


def test_text_arrives_once_per_dedupe_key(settings: Settings, sandbox: RunningSandbox) -> None:
    gateway = SmsGateway(settings)
    first = gateway.send("+46701234567", "Betala 1 250,00 kr: https://pay.example/x", "k1")
    again = gateway.send("+46701234567", "Betala 1 250,00 kr: https://pay.example/x", "k1")
    other = gateway.send("+46701234567", "Påminnelse", "k2")
    gateway.close()
    assert first == again != other
    messages = sandbox.phone("+46701234567")["messages"]
    assert [m["text"] for m in messages] == [
        "Betala 1 250,00 kr: https://pay.example/x",
        "Påminnelse",
    ]
    assert messages[0]["link"] == "https://pay.example/x"


def test_invalid_number_and_wrong_password_are_refused(settings: Settings) -> None:
    gateway = SmsGateway(settings)
    with pytest.raises(ProviderRefused, match="Invalid to"):
        gateway.send("+46701299902", "Hej", "k3")
    with pytest.raises(ProviderRefused, match="Invalid to"):
        gateway.send("0701234567", "Hej", "k4")
    gateway.close()
    wrong = settings.model_copy(
        update={"sms": settings.sms.model_copy(update={"password": SecretStr("nope")})}
    )
    gateway = SmsGateway(wrong)
    with pytest.raises(ProviderRefused, match="credentials"):
        gateway.send("+46701234567", "Hej", "k5")
    gateway.close()


def test_gateway_error_is_retryable(settings: Settings, sandbox: RunningSandbox) -> None:
    sandbox.fault("error", provider="sms", remaining=1)
    gateway = SmsGateway(settings)
    with pytest.raises(ProviderUnavailable):
        gateway.send("+46701234567", "Hej", "k6")
    assert gateway.send("+46701234567", "Hej", "k6")
    gateway.close()
