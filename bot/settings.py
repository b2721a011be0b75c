"""The one typed settings object of the bot process, built once in `main()` and passed in."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from generation.config import EngineSettings
from generation.queue.settings import QueueSettings


class Settings(EngineSettings, QueueSettings):
    """Discord connection and bot behaviour, plus the engine and queue settings it hosts in-process."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    discord_token: SecretStr = Field(description="bot token from the Discord developer portal")
    discord_api_url: str = Field("https://discord.com/api/v10", description="REST base URL")
    discord_gateway_url: str = Field("wss://gateway.discord.gg/", description="gateway WebSocket URL")
    discord_guild_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="guilds to sync commands to instantly (global sync otherwise)"
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["text", "json"] = Field("text", description="json for log collectors")
    health_port: int | None = Field(None, ge=1, le=65535, description="serve /healthz and /metrics here")
    health_host: str = Field("0.0.0.0", description="interface for the health server")

    @field_validator("discord_guild_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        return value
