"""Typed settings, read once from the environment and `.env`, validated at start-up."""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.database import driver_url

PLACEHOLDERS = {"changeme", "change-me", "xoxb-your-token", "your-token-here", "secret"}


class Settings(BaseSettings):
    """Configuration; every field is described in .env.example and the README."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", str_strip_whitespace=True
    )

    database_url: str = "sqlite:///var/juneplum.db"
    sqlite_synchronous: Literal["full", "normal"] = "full"  # normal: faster, loses on power cut
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    log_file: Path | None = None  # serve --console writes logs to var/juneplum.log by default
    max_body_bytes: int = Field(default=1024 * 1024, ge=16 * 1024)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str = "bookings@juneplum.localhost"
    mail_dir: Path = Path("var/mail")
    mail_concurrency: int = Field(default=4, ge=1, le=64)
    mail_poll_seconds: float = Field(default=1.0, gt=0, le=5)
    mail_retry_hours: float = Field(default=24.0, gt=0)
    reminder_sweep_seconds: float = Field(default=15.0, gt=0, le=30)
    chat_poll_seconds: float = Field(default=0.25, gt=0, le=5)
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None  # Socket Mode, for owners with no public URL
    slack_api_url: str = "https://slack.com/api/"
    telegram_bot_token: SecretStr | None = None
    # Telegram: with PUBLIC_URL, updates come to <PUBLIC_URL>/telegram/webhook (else polling).
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    public_url: str | None = None
    # PayPal's webhooks (POST /webhooks/paypal), each event verified with PayPal's own API.
    paypal_client_id: str | None = None
    paypal_client_secret: SecretStr | None = None
    paypal_webhook_id: str | None = None
    paypal_api_url: str = "https://api-m.paypal.com"
    paypal_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    @field_validator("paypal_client_id", "paypal_webhook_id", mode="before")
    @classmethod
    def _blank_paypal_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("paypal_api_url")
    @classmethod
    def _paypal_base_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/?#]+/?", value):
            raise ValueError("must be a base URL without a path, like https://api-m.paypal.com")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _paypal_complete(self) -> Settings:
        given = [self.paypal_client_id, self.paypal_client_secret, self.paypal_webhook_id]
        if any(v is not None for v in given) and not all(v is not None for v in given):
            raise ValueError(
                "PayPal needs PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET and PAYPAL_WEBHOOK_ID "
                "together: every webhook event is verified with them"
            )
        return self

    @property
    def paypal_configured(self) -> bool:
        return self.paypal_client_id is not None

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        secret = value.get_secret_value()
        if secret.lower() in PLACEHOLDERS:
            raise ValueError("is still a placeholder; set a random one (e.g. openssl rand -hex 32)")
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret):
            raise ValueError("use 16 to 256 characters of A-Z a-z 0-9 _ - (Telegram's rule)")
        return value

    @field_validator("telegram_api_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be an http:// or https:// address, like https://bot.example.com")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _webhook_needs_its_secret(self) -> Settings:
        if self.telegram_bot_token and self.public_url and not self.telegram_webhook_secret:
            raise ValueError(
                "PUBLIC_URL makes Telegram post updates to a webhook: set TELEGRAM_WEBHOOK_SECRET "
                "too, so only Telegram's requests are taken"
            )
        if self.telegram_api_url is None:
            raise ValueError("TELEGRAM_API_URL can't be empty (the default is Telegram's)")
        return self

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        try:
            driver_url(value)
        except Exception as exc:
            raise ValueError(
                "use sqlite:///path/to/file.db or postgresql://user:password@host:5432/db"
            ) from exc
        return value

    @field_validator("smtp_host", "smtp_username", "log_file", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        """An empty line in .env (SMTP_HOST=) means unset."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("mail_from")
    @classmethod
    def _plain_address(cls, value: str) -> str:
        value = value.strip()
        try:
            address = Address(addr_spec=value)
        except (ValueError, IndexError, HeaderParseError):
            address = None
        if address is None or not address.username or "." not in address.domain:
            raise ValueError("must be a plain address like bookings@example.com")
        return value

    @model_validator(mode="after")
    def _no_clear_text_password(self) -> Settings:
        if (
            self.smtp_username
            and self.smtp_tls == "none"
            and self.smtp_host not in ("127.0.0.1", "::1", "localhost")
        ):
            raise ValueError(
                "SMTP_TLS=none would send SMTP_PASSWORD in clear text to a remote host; "
                "use starttls or tls (logging in without TLS is only allowed on loopback)"
            )
        return self

    @property
    def chat_configured(self) -> bool:
        """Whether a chat platform takes the terminal's place (`make run` attaches the
        console otherwise)."""
        return self.slack_bot_token is not None or self.telegram_bot_token is not None

    @model_validator(mode="after")
    def _slack_requests_are_verified(self) -> Settings:
        if self.slack_bot_token and not self.slack_app_token and not self.slack_signing_secret:
            raise ValueError(
                "SLACK_SIGNING_SECRET is needed with SLACK_BOT_TOKEN: every request Slack sends "
                "is checked against it (or set SLACK_APP_TOKEN for Socket Mode)"
            )
        return self

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "telegram_bot_token",
        "smtp_password",
        "paypal_client_secret",
    )
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDERS:
            raise ValueError("is still a placeholder; set the real token or leave it empty")
        if value is not None and not value.get_secret_value().strip():
            return None
        return value
