"""Adapters by name, and one setting that moves every provider to another sandbox."""

from __future__ import annotations

import pytest

from verkstad.config import load_settings
from verkstad.errors import ConfigError
from verkstad.mpay.providers.base import Capability
from verkstad.mpay.providers.registry import PROVIDERS, get_provider


def test_every_provider_by_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(tmp_path / "none.toml", environ={})
    for name in PROVIDERS:
        provider = get_provider(name, settings)
        assert provider.name == name and Capability.RECEIVE in provider.capabilities
        provider.close()
    with pytest.raises(ConfigError, match="Unknown payment provider"):
        get_provider("paypal", settings)


def test_one_setting_moves_them_all_and_each_can_be_set_apart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(
        tmp_path / "none.toml",
        environ={
            "VERKSTAD_SANDBOX_URL": "http://127.0.0.1:9999/",
            "VERKSTAD_STRIPE__BASE_URL": "https://api.stripe.com",
        },
    )
    assert [settings.provider_url(n) for n in (*PROVIDERS, "sms")] == [
        "http://127.0.0.1:9999",
        "http://127.0.0.1:9999",
        "https://api.stripe.com",
        "http://127.0.0.1:9999",
        "http://127.0.0.1:9999",
    ]


def test_unreadable_swish_certificate_is_a_config_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(
        tmp_path / "none.toml",
        environ={
            "VERKSTAD_SWISH__CERT_FILE": str(tmp_path / "missing.pem"),
            "VERKSTAD_SWISH__KEY_FILE": str(tmp_path / "missing.key"),
        },
    )
    with pytest.raises(ConfigError, match="Swish certificate settings"):
        get_provider("swish", settings)
