"""Engine settings: which model, where it runs, and how it is placed in memory.

Read from the environment / `.env` once at start-up and passed in; nothing reads them at import time.
Every value is checked here, so a mistake is named at start-up rather than by the first job.

The active model profile (`generation.profiles`) fills in every setting marked "default: profile" that
the environment does not set; a setting that is set always wins.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final, Self

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from generation.profiles import PROFILES, SEED, ModelProfile, OffloadMode, detect_profile

__all__ = ["DTYPES", "SEED_MODEL_ID", "EngineSettings", "OffloadMode"]

SEED_MODEL_ID = SEED.model_id
DTYPES: Final = ("float16", "bfloat16", "float32")
_DEVICE: Final = re.compile(r"auto|cpu|cuda(:\d+)?")


class EngineSettings(BaseSettings):
    """Settings of the generation engine (the GPU side)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    model_profile: str | None = Field(
        None, description="a shipped model profile by name (docs/models.md); default: picked from the model"
    )
    model_id: str = Field(
        SEED_MODEL_ID, description="Hugging Face hub id or local folder of the pipeline; default: the profile's"
    )
    model_variant: str | None = Field(
        "fp16", description="weight variant to load, falls back to none; default: profile"
    )
    torch_dtype: str = Field(
        "float16", description="float16, bfloat16 or float32 (CPU forces float32); default: profile"
    )
    device: str = Field("auto", description="auto, cuda, cuda:N or cpu")
    offload: OffloadMode = Field(OffloadMode.MODEL, description="none, model, group or sequential; default: profile")
    vae_slicing: bool = Field(True, description="decode the video one frame-slice at a time; default: profile")
    vae_tiling: bool = Field(False, description="decode each frame in overlapping tiles; default: profile")
    layerwise_casting: bool = Field(
        False, description="store the denoiser's weights in float8, compute in TORCH_DTYPE (CUDA only)"
    )
    compile_unet: bool = Field(False, description="torch.compile the UNet (slow first call)")
    image_max_bytes: int = Field(
        10 * 2**20, ge=1024, description="largest picture accepted for image-to-video, in bytes"
    )
    image_max_pixels: int = Field(
        4096 * 4096, ge=64 * 64, description="most pixels (width × height) of a picture for image-to-video"
    )
    default_steps: int = Field(
        25, ge=1, le=150, description="denoising steps when a request gives none; default: profile"
    )
    max_batch_size: int = Field(1, ge=1, le=16, description="same-shape jobs run in one pipeline call")
    output_scale: float = Field(1.0, ge=1.0, le=4.0, description="upscale frames before encoding")
    output_dir: Path = Field(Path("outputs"), description="where finished MP4s are written")
    # Read by huggingface_hub from the process environment; see generation.hub_environment.
    hf_home: Path | None = Field(None, description="Hugging Face cache folder (default ~/.cache/huggingface)")
    hf_token: SecretStr | None = Field(None, description="Hugging Face token for gated or private models")
    hf_hub_offline: bool = Field(False, description="1: never contact the Hub; the model must be cached")

    _profile: ModelProfile = PrivateAttr(default=SEED)

    @property
    def profile(self) -> ModelProfile:
        """The active model profile: `model_profile` if named, else the one detected for `model_id`."""
        return self._profile

    @field_validator("model_profile", mode="before")
    @classmethod
    def _check_profile(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and value.strip().lower() not in PROFILES:
            raise ValueError(f"must be one of {', '.join(PROFILES)} (or empty to pick from MODEL_ID)")
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _apply_profile(self) -> Self:
        given = set(self.model_fields_set)
        if self.model_profile is not None:
            profile = PROFILES[self.model_profile]
            if "model_id" not in given:
                self.model_id = profile.model_id
        else:
            profile = detect_profile(self.model_id, self.hf_home)
        self._profile = profile
        from_profile = {
            "model_variant": profile.variant,
            "torch_dtype": profile.dtype,
            "offload": profile.memory.offload,
            "vae_slicing": profile.memory.vae_slicing,
            "vae_tiling": profile.memory.vae_tiling,
            "default_steps": int(profile.steps.default),
        }
        for name, value in from_profile.items():
            if name not in given:
                setattr(self, name, value)
        # Filled in, not given: subclasses' validators and copies must still see them as defaults.
        object.__setattr__(self, "__pydantic_fields_set__", given)
        return self

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
