"""Engine settings: which model, where it runs, and how it is placed in memory.

Read from the environment / `.env` once at start-up and passed in; nothing reads them at import time.
Every value is checked here, so a mistake is named at start-up rather than by the first job.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Final

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SEED_MODEL_ID = "damo-vilab/text-to-video-ms-1.7b"
DTYPES: Final = ("float16", "bfloat16", "float32")
_DEVICE: Final = re.compile(r"auto|cpu|cuda(:\d+)?")


class OffloadMode(StrEnum):
    """How the pipeline's weights are placed: all on the GPU, per model, or per layer (slowest)."""

    NONE = "none"
    MODEL = "model"
    SEQUENTIAL = "sequential"


class EngineSettings(BaseSettings):
    """Settings of the generation engine (the GPU side)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    model_id: str = Field(SEED_MODEL_ID, description="Hugging Face hub id or local folder of the pipeline")
    model_variant: str | None = Field("fp16", description="weight variant to load; falls back to none")
    torch_dtype: str = Field("float16", description="float16, bfloat16 or float32 (CPU forces float32)")
    device: str = Field("auto", description="auto, cuda, cuda:N or cpu")
    offload: OffloadMode = Field(OffloadMode.MODEL, description="none, model or sequential")
    vae_slicing: bool = Field(True, description="decode the video one frame-slice at a time")
    compile_unet: bool = Field(False, description="torch.compile the UNet (slow first call)")
    default_steps: int = Field(25, ge=1, le=150, description="denoising steps when a request gives none")
    max_batch_size: int = Field(1, ge=1, le=16, description="same-shape jobs run in one pipeline call")
    output_scale: float = Field(1.0, ge=1.0, le=4.0, description="upscale frames before encoding")
    output_dir: Path = Field(Path("outputs"), description="where finished MP4s are written")
    # Read by huggingface_hub from the process environment; see generation.hub_environment.
    hf_home: Path | None = Field(None, description="Hugging Face cache folder (default ~/.cache/huggingface)")
    hf_token: SecretStr | None = Field(None, description="Hugging Face token for gated or private models")
    hf_hub_offline: bool = Field(False, description="1: never contact the Hub; the model must be cached")

    @field_validator("torch_dtype", mode="before")
    @classmethod
    def _check_dtype(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() not in DTYPES:
            raise ValueError(f"must be {', '.join(DTYPES[:-1])} or {DTYPES[-1]}")
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("device", mode="before")
    @classmethod
    def _check_device(cls, value: object) -> object:
        if isinstance(value, str) and not _DEVICE.fullmatch(value.strip().lower()):
            raise ValueError("must be auto, cpu, cuda or cuda:N (N the GPU's index, e.g. cuda:0)")
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("hf_home", "hf_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `HF_TOKEN=` as .env.example leaves it means "no token", not an empty one.
        return None if isinstance(value, str) and not value.strip() else value
