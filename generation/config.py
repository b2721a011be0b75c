"""Engine settings: which model, where it runs, and how it is placed in memory.

Read from the environment / `.env` once at start-up and passed in; nothing reads them at import time.
Every value is checked here, so a mistake is named at start-up rather than by the first job.

The active model profile (`generation.profiles`) fills in every setting marked "default: profile" that
the environment does not set; a setting that is set always wins.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.metadata
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Self

from dotenv import dotenv_values
from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from generation.model_list import ModelEntry, parse_models, single_model
from generation.profiles import PROFILES, SEED, ModelProfile, OffloadMode, detect_profile

__all__ = ["DTYPES", "SEED_MODEL_ID", "EngineSettings", "OffloadMode", "StrayName", "settings_parser", "stray_names"]

SEED_MODEL_ID = SEED.model_id
DTYPES: Final = ("float16", "bfloat16", "float32")
_DEVICE: Final = re.compile(r"auto|cpu|cuda(:\d+)?")
# Names a .env may hold that are not settings: docker compose reads them itself.
_COMPOSE_NAMES: Final = ("PRELOAD_MODEL", "COMPOSE_")
# How alike a name in the environment must be to a setting to be taken for its typo: the environment
# holds every program's variables (HOSTNAME is not a typo of HF_HOME), so closer than in a .env.
_ENVIRONMENT_CUTOFF: Final = 0.8


class EngineSettings(BaseSettings):
    """Settings of the generation engine (the GPU side)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    model_profile: str | None = Field(
        None, description="a shipped model profile by name (docs/models.md); default: picked from the model"
    )
    model_id: str = Field(
        SEED_MODEL_ID, description="Hugging Face hub id or local folder of the pipeline; default: the profile's"
    )
    models: str | None = Field(
        None,
        description=(
            "NAME=MODEL,NAME=MODEL,...: the models this machine serves, the first the default; MODEL a"
            " profile name, hub id or folder; unset: MODEL_PROFILE/MODEL_ID, named after its profile"
        ),
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
    _served: tuple[ModelEntry, ...] = PrivateAttr(default=())

    @property
    def profile(self) -> ModelProfile:
        """The active model profile: `model_profile` if named, else the one detected for `model_id`
        (with `MODELS`, the first model's)."""
        return self._profile

    @property
    def served_models(self) -> tuple[ModelEntry, ...]:
        """The models this machine serves, the default first: `MODELS`, else the one of `MODEL_ID`."""
        return self._served or single_model(self.model_id, self._profile, profile_named=self.model_profile is not None)

    def for_model(self, entry: ModelEntry) -> EngineSettings:
        """These settings for one served model: its id and profile; what its profile fills in and this
        environment does not set comes from its own profile."""
        own = {"model_id", "model_profile", "models"}
        given = {name: getattr(self, name) for name in self.model_fields_set & EngineSettings.model_fields.keys()}
        kept = {name: value for name, value in given.items() if name not in own}
        return EngineSettings(
            _env_file=None,
            **kept,
            model_id=entry.model_id,
            model_profile=entry.profile.name if entry.profile_named else None,
            models=None,
        )

    @field_validator("model_profile", mode="before")
    @classmethod
    def _check_profile(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and value.strip().lower() not in PROFILES:
            raise ValueError(f"must be one of {', '.join(PROFILES)} (or empty to pick from MODEL_ID)")
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("models", mode="before")
    @classmethod
    def _empty_models_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _apply_profile(self) -> Self:
        given = set(self.model_fields_set)
        if self.models is not None:
            self._served = self._parse_models(given)
            default = self._served[0]
            self.model_id, profile = default.model_id, default.profile
            self.model_profile = profile.name if default.profile_named else None
        elif self.model_profile is not None:
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

    def _parse_models(self, given: set[str]) -> tuple[ModelEntry, ...]:
        """`MODELS` as entries; one line per problem, `MODEL_ID`/`MODEL_PROFILE` set beside it among them."""
        assert self.models is not None
        problems = []
        try:
            entries = parse_models(self.models, self.hf_home)
        except ValueError as error:
            problems += str(error).splitlines()
        beside = [name.upper() for name in ("model_id", "model_profile") if name in given]
        if beside:
            problems.append(f"{' and '.join(beside)} set beside MODELS: list that model in MODELS instead")
        if problems:
            # One error per problem, each located at MODELS, as a field validator's would be: start-up
            # shows each on a line of its own, naming the setting.
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    {
                        "type": "value_error",
                        "loc": ("models",),
                        "input": self.models,
                        "ctx": {"error": ValueError(line)},
                    }
                    for line in problems
                ],
            )
        return entries

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


@dataclass(frozen=True)
class StrayName:
    """A name set in the environment or a `.env` that is no setting, and the setting it is closest to."""

    name: str
    env_file: Path | None
    """The `.env` it is in; None for the environment."""
    meant: str | None

    @property
    def message(self) -> str:
        """What is wrong, naming where the name was found."""
        if self.env_file is None:
            return f"{self.name} is set in the environment, but it is not a videobot setting, so it has no effect."
        return f"{self.name} in {self.env_file} is not a videobot setting, so it has no effect outside Docker."

    @property
    def fix(self) -> str:
        """Rename it to the setting meant, or remove it."""
        return f"did you mean {self.meant}? Rename it" if self.meant else "remove it, or set it in the environment"


def stray_names(
    settings: Iterable[str],
    *,
    env_file: Path | None,
    environ: Mapping[str, str] | None = None,
    whole_env_file: bool = True,
) -> list[StrayName]:
    """Names in `env_file` and `environ` that are no setting of `settings` (field names), with the one meant.

    Every stray name of `env_file` is reported when `whole_env_file` (a `.env` is this program's alone),
    else only those close to a setting (a worker's `.env` may be shared with the bot); of `environ`,
    which holds every program's variables, only names very close to a setting.
    """
    known = [name.upper() for name in settings]
    found: list[StrayName] = []
    if env_file is not None and env_file.is_file():
        cutoff = 0.6 if whole_env_file else _ENVIRONMENT_CUTOFF
        found += _strays(dotenv_values(env_file), env_file, known, cutoff, every=whole_env_file)
    if environ is not None:
        found += _strays(environ, None, known, _ENVIRONMENT_CUTOFF, every=False)
    return found


def _strays(
    names: Iterable[str], where: Path | None, known: list[str], cutoff: float, *, every: bool
) -> list[StrayName]:
    found = []
    for name in names:
        if name.upper() in known or name.upper().startswith(_COMPOSE_NAMES):
            continue
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=cutoff)
        if close or every:
            found.append(StrayName(name, where, close[0] if close else None))
    return found


def settings_parser(prog: str, description: str, fields: Mapping[str, FieldInfo]) -> argparse.ArgumentParser:
    """The parser of a command configured by `fields`: `--help` lists each setting, `--version` the
    installed version, and neither reads a setting (both answer on a host with nothing configured)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=_settings_help(fields),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {importlib.metadata.version('videobot')}")
    return parser


def _settings_help(fields: Mapping[str, FieldInfo]) -> str:
    """The `--help` epilog: each variable, its default and its use."""
    lines = ["settings (environment variable, default: what it does):"]
    for name, field in fields.items():
        default = "required" if field.is_required() else _shown(field.get_default(call_default_factory=True))
        lines.append(f"  {name.upper():<24} {default}: {field.description}")
    return "\n".join(lines)


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value) or "(empty)"
    if value is None:
        return "(unset)"
    return str(value)
