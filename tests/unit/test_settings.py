"""Settings are validated once, at start-up, with messages an operator can act on."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_example_env_file_is_valid_and_means_the_defaults() -> None:
    example = Settings(_env_file=Path(__file__).parents[2] / ".env.example")
    assert example.database_url == "sqlite:///var/juneplum.db"
    assert example.smtp_host is None and example.smtp_password is None
    assert example.log_file is None and example.slack_bot_token is None


@pytest.mark.parametrize("url", ["mysql://root@localhost/db", "not a url", "sqlite"])
def test_an_unsupported_database_url_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="use sqlite:///"):
        settings(database_url=url)


@pytest.mark.parametrize("address", ["@example.com", "bookings@", "a@b", "x y@example.com"])
def test_a_sender_address_that_could_not_be_sent_from_is_refused(address: str) -> None:
    with pytest.raises(ValidationError, match="plain address"):
        settings(mail_from=address)


def test_a_placeholder_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        settings(slack_bot_token="changeme")


def test_a_password_is_never_sent_in_clear_text_to_a_remote_host() -> None:
    with pytest.raises(ValidationError, match="clear text"):
        settings(smtp_host="smtp.example.com", smtp_tls="none", smtp_username="u")
    local = settings(smtp_host="127.0.0.1", smtp_tls="none", smtp_username="u")
    assert local.smtp_username == "u"


def test_secrets_never_show_in_the_settings_repr() -> None:
    secret = settings(smtp_host="smtp.example.com", smtp_username="u", smtp_password="hunter2")
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)


def test_paypal_needs_its_client_id_secret_and_webhook_id_together() -> None:
    with pytest.raises(ValidationError, match="PAYPAL_WEBHOOK_ID together"):
        settings(paypal_client_id="AZ-1", paypal_client_secret="EJ-secret-value")
    both = settings(
        paypal_client_id="AZ-1", paypal_client_secret="EJ-secret-value", paypal_webhook_id="WH-1"
    )
    assert both.paypal_configured and both.paypal_api_url == "https://api-m.paypal.com"
    assert not settings().paypal_configured


@pytest.mark.parametrize("url", ["https://api-m.paypal.com/v1", "api-m.paypal.com", "ftp://x"])
def test_paypal_s_api_url_is_a_base_url_without_a_path(url: str) -> None:
    with pytest.raises(ValidationError, match="base URL"):
        settings(paypal_api_url=url)
