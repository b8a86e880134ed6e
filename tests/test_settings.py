"""Configuration: typed PN_* variables and refusal of unsafe production settings."""

from __future__ import annotations

import pytest

from pass_numerique.security.passwords import PROFILES
from pass_numerique.settings import DEFAULT_SECRET, SettingsError, _from_environment

HTTPS = {"PN_PUBLIC_URL": "https://pass.example.fr"}


def test_environment_values_are_typed() -> None:
    settings = _from_environment({"PN_PORT": "9000", "PN_PRODUCTION": "false", "PN_DEPARTEMENT_CODE": "79"})
    assert settings.port == 9000 and settings.production is False and settings.departement_code == "79"
    assert settings.is_sqlite


def test_production_refuses_the_default_or_a_short_secret() -> None:
    with pytest.raises(SettingsError):
        _from_environment({"PN_PRODUCTION": "true"}).check()
    with pytest.raises(SettingsError):
        _from_environment({"PN_PRODUCTION": "true", "PN_SECRET_KEY": "short"}).check()
    _from_environment({"PN_PRODUCTION": "true", "PN_SECRET_KEY": "x" * 40, **HTTPS}).check()
    assert DEFAULT_SECRET not in "x" * 40


def test_unknown_database_scheme_is_refused() -> None:
    with pytest.raises(SettingsError):
        _from_environment({"PN_DATABASE_URL": "mysql://localhost/db"}).check()


def test_passwords_default_to_rfc_9106_and_the_test_profile_is_refused_in_production() -> None:
    settings = _from_environment({})
    assert settings.argon2_profile == "rfc_9106_low_memory"
    assert PROFILES[settings.argon2_profile].memory_cost == 64 * 1024
    assert PROFILES[settings.argon2_profile].time_cost == 3
    with pytest.raises(SettingsError):
        _from_environment(
            {"PN_PRODUCTION": "true", "PN_SECRET_KEY": "x" * 40, "PN_ARGON2_PROFILE": "cheapest", **HTTPS}
        ).check()


def test_production_refuses_a_public_url_without_https() -> None:
    production = {"PN_PRODUCTION": "true", "PN_SECRET_KEY": "x" * 40}
    for url in ("http://pass.example.fr", "pass.example.fr", ""):
        with pytest.raises(SettingsError, match="PN_PUBLIC_URL must start with https://"):
            _from_environment({**production, "PN_PUBLIC_URL": url}).check()
    _from_environment({**production, **HTTPS}).check()
    _from_environment({"PN_PUBLIC_URL": "http://127.0.0.1:8000"}).check()  # embedded mode: fine


@pytest.mark.parametrize(
    "unsafe",
    [
        {"PN_TOKEN_DEFAULT_DAYS": "400"},  # beyond the maximum
        {"PN_TOKEN_DEFAULT_DAYS": "0"},
        {"PN_MAX_FAILED_ATTEMPTS_PER_AGENT": "0"},
        {"PN_MAX_LOGIN_FAILURES_PER_CLIENT": "-1"},
        {"PN_ATTEMPT_WINDOW_SECONDS": "0"},
    ],
)
def test_token_lifetimes_and_abuse_limits_must_make_sense(unsafe: dict[str, str]) -> None:
    _from_environment({}).check()
    with pytest.raises(SettingsError):
        _from_environment(unsafe).check()
