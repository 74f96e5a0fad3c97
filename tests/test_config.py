"""Settings: validated at start-up, with a clear message for each bad value."""

from __future__ import annotations

import pytest

from api.config import ConfigError, load_settings


def test_production_requires_a_secret_key():
    with pytest.raises(ConfigError, match="CARAVAN_SECRET_KEY is required"):
        load_settings({"CARAVAN_MODE": "production", "DATABASE_URL": "postgresql://db/x"})


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "CARAVAN_MODE": "production",
                "DATABASE_URL": "mysql://nope",
                "CARAVAN_SECRET_KEY": "short",
                "CARAVAN_POOL_MAX_SIZE": "lots",
            }
        )
    message = str(caught.value)
    assert "DATABASE_URL must start with postgresql://" in message
    assert "at least 32 characters" in message
    assert "CARAVAN_POOL_MAX_SIZE must be a whole number" in message


def test_unknown_mode_is_refused():
    with pytest.raises(ConfigError, match="CARAVAN_MODE must be one of"):
        load_settings({"CARAVAN_MODE": "staging", "CARAVAN_SECRET_KEY": "x" * 40})


def test_malformed_port_is_refused():
    with pytest.raises(ConfigError, match="malformed port"):
        load_settings({"CARAVAN_MODE": "test", "DATABASE_URL": "postgresql://db:port/x"})


def test_test_mode_generates_a_secret_and_says_so():
    settings = load_settings({"CARAVAN_MODE": "test"})
    assert settings.secret_key_generated
    assert len(settings.secret_key) >= 32


def test_valid_environment_is_read_into_settings():
    settings = load_settings(
        {
            "CARAVAN_MODE": "production",
            "DATABASE_URL": "postgresql://caravan@db:5432/caravan",
            "CARAVAN_SECRET_KEY": "k" * 48,
            "CARAVAN_CORS_ORIGINS": "https://a.example, https://b.example",
            "CARAVAN_PUBLIC_URL": "https://caravan.example/",
        }
    )
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.public_url == "https://caravan.example"
    assert not settings.secret_key_generated
