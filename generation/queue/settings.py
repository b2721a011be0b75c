"""Queue settings: caps, batching, time limits and where jobs are persisted."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class QueueSettings(BaseSettings):
    """Settings of the job queue: in-process in front of one GPU worker, or in Redis in front of many."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    queue_max_jobs: int = Field(100, ge=1, description="jobs waiting across all users before refusing")
    queue_max_per_user: int = Field(3, ge=1, description="jobs one user may have waiting or running")
    job_timeout_s: float = Field(600.0, gt=0, description="a running job is failed after this long")
    job_max_attempts: int = Field(3, ge=1, description="crashes during one job before it is failed")
    shutdown_grace_s: float = Field(
        60.0, ge=0, description="how long shutdown waits for the running job, then for its delivery"
    )
    database_path: Path = Field(Path("videobot.sqlite3"), description="SQLite file for jobs and history")
    eta_window: int = Field(20, ge=1, description="recent jobs averaged for ETAs")
    video_retention_h: float = Field(
        168.0,
        ge=0,
        description=(
            "hours a delivered video and its picture stay in the bot's OUTPUT_DIR before they are deleted,"
            " with or without QUEUE_URL (0: forever)"
        ),
    )
    queue_url: SecretStr | None = Field(
        None,
        description="redis://host:6379/0: jobs go through Redis to GPU workers (videobot-worker); unset: in-process",
    )
    queue_lease_s: float = Field(
        30.0, gt=0, description="with QUEUE_URL: a job whose worker stops heartbeating this long is run elsewhere"
    )
    queue_video_ttl_h: float = Field(
        24.0, gt=0, description="with QUEUE_URL: hours a finished video waits in Redis for the bot to fetch it"
    )
    queue_origin: str = Field(
        "bot",
        min_length=1,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="with QUEUE_URL: this bot process's name in Redis; give each bot sharing one Redis its own",
    )

    @field_validator("queue_url", mode="before")
    @classmethod
    def _check_queue_url(cls, value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and not text.strip():
            return None  # `QUEUE_URL=` as .env.example leaves it: the in-process queue
        if isinstance(text, str) and not text.strip().startswith(_REDIS_SCHEMES):
            raise ValueError("must be a Redis URL: redis://host:6379/0 (or rediss://, unix://)")
        return value
