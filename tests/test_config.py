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


@pytest.mark.parametrize(
    ("text", "env", "cli"),
    [
        ("", {}, {}),
        (
            'lang = "nb"\nuser = "anna"\ncapture_window_minutes = 30\n',
            {"VERKSTAD_LANG": "fr", "VERKSTAD_POLL_INTERVAL_SECONDS": "7", "VERKSTAD_X": "1"},
            {"user": "bo", "database_url": "sqlite:///x.db"},
        ),
        ('lang = "nb"\n[smtp]\nhost = "mail.example.se"\n', {}, {}),  # a section
        ('[keys]\nsend_payment = "f2"\n', {}, {}),
        ("capture_window_minutes = 0\n", {}, {}),  # out of range: the full load says so
        ('lang = "de"\n', {}, {}),
        ("", {"VERKSTAD_CAPTURE_WINDOW_MINUTES": "15.0"}, {}),  # needs coercing
        ("", {"VERKSTAD_CAPTURE_WINDOW_MINUTES": "99999"}, {}),
        ("", {"VERKSTAD_SMTP__HOST": "mail.example.se"}, {}),
        ("", {"VERKSTAD_HTTP_TIMEOUT_SECONDS": "3"}, {}),
        ("user = [", {}, {}),
        ('lang = "nb"\r', {}, {}),  # a lone CR: TOML refuses it (a newline-reading parse did not)
    ],
)
def test_quick_settings_are_the_full_load_or_step_aside(tmp_path, text, env, cli):
    """The counter's first screen reads simple settings without pydantic: exactly what the
    full load gives, and nothing at all (None: the full load runs) for anything else."""
    from verkstad.quick_settings import QUICK, quick_settings

    path = tmp_path / "config.toml"
    path.write_text(text)
    quick = quick_settings(cli, env, path)
    try:
        full = load_settings(path, env, cli)
    except ConfigError:
        assert quick is None
        return
    if quick is None:
        return
    for name in QUICK:
        assert getattr(quick, name) == getattr(full, name), name
    assert quick.keys == full.keys
    assert quick.resolved_database_url() == full.resolved_database_url()
    assert quick.smtp == full.smtp and quick.provider_url("vipps") == full.provider_url("vipps")


def test_quick_settings_know_every_setting_and_its_limits(tmp_path):
    from verkstad.config import Settings
    from verkstad.quick_settings import DEFAULTS, OTHER_FIELDS, QUICK

    assert set(QUICK) | OTHER_FIELDS == set(Settings.model_fields)
    assert not set(QUICK) & OTHER_FIELDS
    none = tmp_path / "none.toml"
    for name, (kind, low, high) in QUICK.items():
        assert Settings.model_fields[name].default == DEFAULTS[name], name
        if kind is int:
            assert low is not None and high is not None
            for value, valid in ((low - 1, False), (low, True), (high, True), (high + 1, False)):
                env = {f"VERKSTAD_{name.upper()}": str(int(value))}
                if valid:
                    assert getattr(load_settings(none, env), name) == value
                else:
                    with pytest.raises(ConfigError):
                        load_settings(none, env)
