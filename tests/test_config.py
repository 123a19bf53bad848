"""Settings: file, then environment, then CLI; a broken file is named with line and key."""

import pytest

from verkstad.config import load_settings
from verkstad.errors import ConfigError


def test_precedence_file_env_cli(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('lang = "nb"\nuser = "anna"\n[smtp]\nhost = "mail.example.se"\nport = 587\n')
    s = load_settings(path, {})
    assert (s.lang, s.user, s.smtp.host, s.smtp.port) == ("nb", "anna", "mail.example.se", 587)
    s = load_settings(path, {"VERKSTAD_LANG": "fr", "VERKSTAD_SMTP__PORT": "2525"})
    assert (s.lang, s.smtp.port, s.smtp.host) == ("fr", 2525, "mail.example.se")
    s = load_settings(path, {"VERKSTAD_LANG": "fr"}, {"lang": "en", "user": ""})
    assert (s.lang, s.user) == ("en", "anna")


def test_sandbox_url_moves_every_provider(tmp_path):
    s = load_settings(tmp_path / "none.toml", {"VERKSTAD_SANDBOX_URL": "http://127.0.0.1:9999/"})
    assert {s.provider_url(p) for p in ("vipps", "swish", "stripe", "resurs")} == {
        "http://127.0.0.1:9999"
    }
    s = load_settings(
        tmp_path / "none.toml", {"VERKSTAD_VIPPS__BASE_URL": "https://apitest.vipps.no"}
    )
    assert s.provider_url("vipps") == "https://apitest.vipps.no"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('lang = "sv"\nport = \n', "line 2"),
        ('lang = "xx"\n', "line 1, key 'lang'"),
        ('[smtp]\nhost = "a"\nport = "many"\n', "line 3, key 'smtp.port'"),
        ('[smtp]\nsecurity = "tls"\n', "key 'smtp.security'"),
        ('colour = "blue"\n', "key 'colour': unknown setting"),
    ],
)
def test_broken_file_names_file_line_and_key(tmp_path, text, expected):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_settings(path, {})
    assert str(path) in str(e.value) and expected in str(e.value)


def test_bad_environment_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="VERKSTAD_SMTP__PORT"):
        load_settings(tmp_path / "none.toml", {"VERKSTAD_SMTP__PORT": "x"})


def test_secrets_are_masked(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        'database_url = "postgresql://verk:hemligt123@db.example/verk"\n'
        '[stripe]\napi_key = "sk_live_abcdef"\n[smtp]\npassword = "smtp-secret"\n'
    )
    shown = repr(load_settings(path, {}).masked())
    for secret in ("hemligt123", "sk_live_abcdef", "smtp-secret", "sandbox-secret"):
        assert secret not in shown
    assert "postgresql://verk:********@db.example/verk" in shown
