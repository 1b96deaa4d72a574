"""Typed settings, read once from the environment and `.env`, validated at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"changeme", "change-me", "xoxb-your-token", "your-token-here", "secret"}


class Settings(BaseSettings):
    """Configuration; every field is described in .env.example and the README."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite:///var/juneplum.db"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    max_body_bytes: int = 1024 * 1024
    slack_bot_token: SecretStr | None = None
    telegram_bot_token: SecretStr | None = None

    @field_validator("slack_bot_token", "telegram_bot_token")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDERS:
            raise ValueError("is still a placeholder; set the real token or leave it empty")
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @property
    def has_chat(self) -> bool:
        return self.slack_bot_token is not None or self.telegram_bot_token is not None
