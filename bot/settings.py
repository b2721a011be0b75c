"""The one typed settings object of the bot process, built once in `main()` and passed in."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Annotated, Final, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from bot.intake.options import SIZES, VideoSize
from bot.moderation.rules import Blocklist
from generation.config import EngineSettings
from generation.errors import InvalidRequestError
from generation.queue.settings import QueueSettings
from generation.request import check_model_name

LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
# Discord allows 25 choices per option; each size is one choice of /video's `size`.
MAX_SIZES: Final = 25
_HOSTNAME: Final = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")
DEFAULT_SIZES = tuple(f"{size.name}:{size.width}x{size.height}" for size in SIZES)


class Settings(EngineSettings, QueueSettings):
    """Discord connection and bot behaviour, plus the engine and queue settings it hosts in-process."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    discord_token: SecretStr = Field(description="bot token from the Discord developer portal")
    discord_api_url: str = Field("https://discord.com/api/v10", description="REST base URL")
    discord_gateway_url: str = Field("wss://gateway.discord.gg/", description="gateway WebSocket URL")
    discord_guild_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="guilds to sync commands to instantly (global sync otherwise)"
    )
    status_edit_interval_s: float = Field(1.5, gt=0, description="minimum seconds between edits of one status")
    status_edits_per_second: float = Field(4.0, gt=0, description="status edits per second across all jobs")
    position_edit_interval_s: float = Field(
        5.0, gt=0, description="minimum seconds between edits of a waiting job's place in line"
    )
    # The five limits below default to the model profile's (docs/models.md); a value set here wins.
    max_steps: int = Field(50, ge=1, le=150, description="most denoising steps a user may ask for; default: profile")
    max_frames: int = Field(32, ge=1, le=257, description="most frames a user may ask for; default: profile")
    max_guidance: float = Field(20.0, ge=0, le=30, description="highest guidance a user may ask for; default: profile")
    max_fps: int = Field(24, ge=1, le=60, description="highest fps a user may ask for; default: profile")
    video_sizes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_SIZES),
        description="name:WIDTHxHEIGHT choices, first is default; default: profile",
    )
    default_model: str | None = Field(
        None,
        description="model /video uses when neither the member nor a channel default names one; empty: the first",
    )
    allowed_channel_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="channels (or parent channels of threads) where /video works; empty = all",
    )
    allowed_role_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="roles allowed to use /video; empty = everyone"
    )
    admin_role_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="roles that may use /videoadmin besides Manage Server"
    )
    allow_dms: bool = Field(False, description="accept /video in direct messages")
    blocklist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="words or phrases, comma-separated or a JSON list; re:PATTERN = regex",
    )
    blocklist_mode: Literal["refuse_everywhere", "refuse_outside_nsfw"] = Field(
        "refuse_outside_nsfw", description="where blocklisted prompts are refused"
    )
    cooldown_s: float = Field(0.0, ge=0, description="seconds a user waits between /video requests")
    daily_quota: int = Field(
        0, ge=0, description="videos a member may make per day in each server (and in DMs); 0 = no limit"
    )
    quota_reset_hour: int | None = Field(
        None, ge=0, le=23, description="hour (UTC, 0-23) the daily quota starts afresh; empty = a rolling 24 hours"
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["text", "json"] = Field("text", description="json for log collectors")
    health_port: int | None = Field(None, ge=1, le=65535, description="serve /healthz and /metrics here")
    # Loopback: /metrics has no authentication. The image listens on all interfaces (its own
    # network namespace; compose publishes the port on the host's loopback only).
    health_host: str = Field("127.0.0.1", description="interface for the health server (0.0.0.0: all)")
    # Discord requires sharding past 2,500 servers; several processes sharing one QUEUE_URL each run a range.
    shard_count: int | None = Field(
        None, ge=1, description="Discord shards in all, across every bot process; unset: no sharding"
    )
    shard_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="the shards this process runs, e.g. 0,1 or 0-3 (needs SHARD_COUNT); empty: all of them",
    )

    @model_validator(mode="after")
    def _limits_from_profile(self) -> Self:
        given = set(self.model_fields_set)
        profile = self.profile
        from_profile = {
            "max_steps": int(profile.steps.maximum),
            "max_frames": profile.frames.maximum,
            "max_guidance": profile.guidance.maximum,
            "max_fps": int(profile.fps.maximum),
            "video_sizes": profile.size_settings(),
        }
        for name, value in from_profile.items():
            if name not in given:
                setattr(self, name, value)
        object.__setattr__(self, "__pydantic_fields_set__", given)
        # Checked here so that a limit the model cannot honour stops the start, not every request.
        try:
            profile.frames.capped(self.max_frames)
        except ValueError as error:
            raise _setting_error("max_frames", self.max_frames, str(error)) from None
        for name, width, height in self.parsed_sizes():
            if width % profile.size_multiple or height % profile.size_multiple:
                raise _setting_error(
                    "video_sizes",
                    self.video_sizes,
                    f"{name}:{width}x{height} does not suit {profile.title}, whose sides must be multiples of "
                    f"{profile.size_multiple}",
                )
        return self

    @field_validator("default_model", mode="before")
    @classmethod
    def _check_default_model(cls, value: object) -> object:
        if value == "" or value is None:
            return None  # DEFAULT_MODEL= in .env: the first served model
        if not isinstance(value, str):
            return value
        try:
            return check_model_name(value)
        except InvalidRequestError:
            raise ValueError(
                "must be the public name of a served model: 1-32 letters, digits, '-' or '.' (e.g. ltx-video)"
            ) from None

    @model_validator(mode="after")
    def _check_shards(self) -> Self:
        ids, shown = self.shard_ids, ",".join(map(str, self.shard_ids))
        if ids and self.shard_count is None:
            raise _setting_error("shard_ids", shown, "needs SHARD_COUNT, the number of shards across every process")
        if self.shard_count is not None and not all(0 <= shard < self.shard_count for shard in ids):
            raise _setting_error("shard_ids", shown, f"each id must be within 0..{self.shard_count - 1} (SHARD_COUNT)")
        if len(set(ids)) < len(ids):
            raise _setting_error("shard_ids", shown, "lists a shard twice")
        if ids and "queue_origin" not in self.model_fields_set:
            # Each process follows and recovers only its own jobs in Redis: its shards name it.
            given = set(self.model_fields_set)
            self.queue_origin = "shards-" + "-".join(map(str, ids))
            object.__setattr__(self, "__pydantic_fields_set__", given)
        return self

    @field_validator("discord_api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        if not re.match(r"https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL such as https://discord.com/api/v10")
        return value

    @field_validator("discord_gateway_url")
    @classmethod
    def _check_gateway_url(cls, value: str) -> str:
        if not re.match(r"wss?://[^/\s]+", value):
            raise ValueError("must be a ws:// or wss:// URL such as wss://gateway.discord.gg/")
        return value

    @field_validator("discord_guild_ids", "allowed_channel_ids", "allowed_role_ids", "admin_role_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part for part in value.replace(" ", "").split(",") if part]
            if not all(part.isdigit() for part in parts):
                raise ValueError("must be numeric ids separated by commas (Developer Mode → right-click → Copy ID)")
            return [int(part) for part in parts]
        return value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _split_shard_ids(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        ids: list[int] = []
        for part in filter(None, value.replace(" ", "").split(",")):
            first, dash, last = part.partition("-")
            last = last if dash else first
            if not (first.isdigit() and last.isdigit() and int(first) <= int(last)):
                raise ValueError("must be shard ids or ranges separated by commas, e.g. 0,1 or 0-3")
            ids.extend(range(int(first), int(last) + 1))
        return ids

    @field_validator("health_port", "quota_reset_hour", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # HEALTH_PORT= in .env turns the server off even where the image sets a port; QUOTA_RESET_HOUR=
        # keeps the rolling window.
        return None if value == "" else value

    @field_validator("video_sizes", "blocklist", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        # A JSON list lets a blocklist regex contain commas (re:a{1,3}).
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f"starts with '[' but is not a JSON list of strings ({error})") from None
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("video_sizes")
    @classmethod
    def _check_sizes(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one size is needed")
        names = [VideoSize(*parse_size(entry)).name for entry in value]
        if len(set(names)) < len(names):
            raise ValueError("each size needs its own name")
        if len(names) > MAX_SIZES:
            raise ValueError(f"Discord shows at most {MAX_SIZES} choices")
        return value

    @field_validator("blocklist")
    @classmethod
    def _check_blocklist(cls, value: list[str]) -> list[str]:
        Blocklist.from_entries(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"must be {', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]}")
        return value.strip().upper()

    @field_validator("health_host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _HOSTNAME.fullmatch(value):
                raise ValueError("must be an IP address of this machine (127.0.0.1, 0.0.0.0) or a hostname") from None
        return value

    def parsed_sizes(self) -> list[tuple[str, int, int]]:
        """`video_sizes` as (name, width, height)."""
        return [parse_size(entry) for entry in self.video_sizes]


def _setting_error(field: str, value: object, message: str) -> ValidationError:
    """A validation error located at `field`, as a field validator's would be (so start-up names it)."""
    return ValidationError.from_exception_data(
        "Settings", [{"type": "value_error", "loc": (field,), "input": value, "ctx": {"error": ValueError(message)}}]
    )


def parse_size(entry: str) -> tuple[str, int, int]:
    """`"name:WxH"` → (name, W, H); raises ValueError naming the entry when malformed."""
    name, _, dims = entry.partition(":")
    width, _, height = dims.lower().partition("x")
    if not (name and width.isdigit() and height.isdigit()):
        raise ValueError(f"size {entry!r} must look like name:WIDTHxHEIGHT, e.g. square:256x256")
    return name, int(width), int(height)
