"""Engine settings: which model, where it runs, and how it is placed in memory.

Read from the environment / `.env` once at start-up and passed in; nothing reads them at import time.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SEED_MODEL_ID = "damo-vilab/text-to-video-ms-1.7b"


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
