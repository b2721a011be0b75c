"""Model profiles: per model family, what a good request looks like and what the pipeline needs.

A profile holds the sizes a model renders well, its frame-count rule (Wan 4k+1, LTX-Video 8k+1), the
step, guidance and fps ranges, the dtype it was trained in, whether DPM-Solver++ may replace its
scheduler, its default negative prompt and how to fit it in memory. Sources for every value are in
`docs/models.md`.

Pure data and plain file reads, no torch: the bot process picks the active profile (for its option
ranges) without loading the pipeline, from `MODEL_PROFILE`, else the pipeline class named in the
model's `model_index.json` (a local folder or the Hugging Face cache), else the model id. The engine
checks that the pipeline it loads agrees (`generation.pipeline`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from generation.errors import InvalidRequestError
from generation.request import Bounds

log = logging.getLogger(__name__)


class FramePolicy(StrEnum):
    """What happens to a frame count the model's rule forbids."""

    ROUND = "round"
    """Use the nearest allowed count (up when possible) and tell the user."""
    REFUSE = "refuse"
    """Refuse the request, naming the rule."""


@dataclass(frozen=True)
class FrameRule:
    """Allowed frame counts: `step`·k + `offset` between `minimum` and `maximum`, and the default.

    Video VAEs compress time: Wan's by 4 and LTX-Video's by 8, keeping the first frame apart, so they
    take 4k+1 and 8k+1 frames. A rule of step 1 allows any count in range.
    """

    step: int
    offset: int
    minimum: int
    maximum: int
    default: int
    policy: FramePolicy = FramePolicy.ROUND

    def __post_init__(self) -> None:
        for name, count in (("minimum", self.minimum), ("maximum", self.maximum), ("default", self.default)):
            if not self.allows_shape(count):
                raise ValueError(f"frame rule {self.describe()}: {name} {count} is not {self.pattern()}")
        if not self.minimum <= self.default <= self.maximum:
            raise ValueError(f"frame rule: default {self.default} outside {self.minimum}..{self.maximum}")

    def pattern(self) -> str:
        """The rule as people write it: `4k+1`, or `any count` for step 1."""
        if self.step == 1:
            return "any count"
        return f"{self.step}k+{self.offset}" if self.offset else f"a multiple of {self.step}"

    def describe(self) -> str:
        """The rule with its range, e.g. `4k+1 frames from 5 to 81 (5, 9, 13, …)`."""
        if self.step == 1:
            return f"from {self.minimum} to {self.maximum} frames"
        first = [self.minimum + self.step * index for index in range(3)]
        return f"{self.pattern()} frames from {self.minimum} to {self.maximum} ({', '.join(map(str, first))}, …)"

    def allows_shape(self, count: int) -> bool:
        """True when `count` fits the pattern (the range aside)."""
        return count >= 1 and (count - self.offset) % self.step == 0

    def allows(self, count: int) -> bool:
        """True when `count` fits the pattern and the range."""
        return self.minimum <= count <= self.maximum and self.allows_shape(count)

    def capped(self, maximum: int) -> FrameRule:
        """The same rule up to `maximum` instead (an operator's `MAX_FRAMES`, lower or higher).

        Raises ValueError when no allowed count is left, e.g. `MAX_FRAMES=4` under an 8k+1 rule from 9.
        """
        top = maximum - (maximum - self.offset) % self.step
        if top < self.minimum:
            raise ValueError(f"{maximum} leaves no frame count under the model's rule ({self.describe()})")
        return dataclasses.replace(self, maximum=top, default=min(self.default, top))

    def fit(self, count: int) -> int:
        """`count` made allowed by the policy: the same when allowed, else the next allowed count up.

        Up, never down, so a video is never shorter than asked (the maximum is itself allowed, so there
        always is one). Raises `InvalidRequestError` for field `num_frames`, naming the rule, when the
        policy is to refuse or `count` is out of range.
        """
        if self.allows(count):
            return count
        if self.policy is FramePolicy.REFUSE or not self.minimum <= count <= self.maximum:
            raise InvalidRequestError("num_frames", count, self.describe())
        return count - (count - self.offset) % self.step + self.step


@dataclass(frozen=True)
class NamedSize:
    """One output size of a profile; `name` becomes the `/video` size choice."""

    name: str
    width: int
    height: int

    def setting(self) -> str:
        """The size as `VIDEO_SIZES` writes it, `name:WIDTHxHEIGHT`."""
        return f"{self.name}:{self.width}x{self.height}"


class SchedulerChoice(StrEnum):
    """Whether the engine may replace the pipeline's scheduler."""

    DPM_SOLVER = "dpm_solver"
    """DPM-Solver++ when compatible (noise-predicting models): the same quality in about half the steps."""
    KEEP = "keep"
    """The scheduler the model was trained and tuned with (flow matching, CogVideoX's own)."""


class OffloadMode(StrEnum):
    """How the pipeline's weights are placed: all on the GPU, per model, per group of layers, per layer."""

    NONE = "none"
    MODEL = "model"
    GROUP = "group"
    """diffusers' group offloading: layers stream to the GPU ahead of use; near model-offload speed, far less memory."""
    SEQUENTIAL = "sequential"


@dataclass(frozen=True)
class MemoryPlan:
    """How the profile fits a consumer GPU; settings of the same names override each."""

    offload: OffloadMode = OffloadMode.MODEL
    vae_slicing: bool = True
    vae_tiling: bool = False


@dataclass(frozen=True)
class ModelProfile:
    """Everything the engine and the bot need to know about one model family; see the module docstring."""

    name: str
    title: str
    model_id: str
    """The hub id `MODEL_PROFILE=<name>` loads when `MODEL_ID` is not set."""
    pipeline_classes: tuple[str, ...]
    """diffusers pipeline classes this profile drives; the first is loaded when the profile is named."""

    sizes: tuple[NamedSize, ...]
    frames: FrameRule
    steps: Bounds
    guidance: Bounds
    fps: Bounds
    size_multiple: int
    """Width and height must be multiples of this (VAE spatial compression × transformer patch size)."""
    dtype: str
    variant: str | None = None
    scheduler: SchedulerChoice = SchedulerChoice.KEEP
    negative_prompt: str = ""
    memory: MemoryPlan = MemoryPlan()
    image_to_video: bool = False
    loads_weights_of: tuple[str, ...] = ()
    """Other pipeline classes whose saved models the first class loads too (LTX-Video's as image-to-video)."""
    id_pattern: str = ""
    """Regular expression (case-insensitive) on the model id that picks this profile among those for its class."""
    needs: str = ""
    """What it needs, for the README: VRAM class and typical time per video where a source gives one."""

    def __post_init__(self) -> None:
        for size in self.sizes:
            if size.width % self.size_multiple or size.height % self.size_multiple:
                raise ValueError(f"profile {self.name}: size {size.name} is not a multiple of {self.size_multiple}")
        if not self.sizes:
            raise ValueError(f"profile {self.name} has no sizes")

    def size_settings(self) -> list[str]:
        """The sizes as `VIDEO_SIZES` entries."""
        return [size.setting() for size in self.sizes]

    def loads(self, class_name: str) -> bool:
        """True when this profile drives pipelines of `class_name`."""
        return class_name in self.pipeline_classes


# The long negative prompt of Wan's model cards, in the English the diffusers examples use.
_WAN_NEGATIVE: Final = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, static, "
    "overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, extra fingers, "
    "poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, fused fingers, still "
    "picture, messy background, three legs, many people in the background, walking backwards"
)
_LTX_NEGATIVE: Final = "worst quality, inconsistent motion, blurry, jittery, distorted"
_WAN_480: Final = (NamedSize("landscape", 832, 480), NamedSize("portrait", 480, 832))
_WAN_720: Final = (NamedSize("landscape", 1280, 720), NamedSize("portrait", 720, 1280), *(
    NamedSize(f"{size.name}-480p", size.width, size.height) for size in _WAN_480
))  # fmt: skip
_WAN_FRAMES: Final = FrameRule(step=4, offset=1, minimum=5, maximum=81, default=81)
_LTX_SIZES: Final = (
    NamedSize("landscape", 704, 480),
    NamedSize("portrait", 480, 704),
    NamedSize("wide", 768, 512),
    NamedSize("tall", 512, 768),
    NamedSize("square", 512, 512),
)
_LTX_FRAMES: Final = FrameRule(step=8, offset=1, minimum=9, maximum=257, default=121)
_COG_SIZES: Final = (NamedSize("landscape", 720, 480),)
# CogVideoX 1.0 was trained on 49 frames (6 s at 8 fps) and is fixed to them in its model card.
_COG_FRAMES: Final = FrameRule(step=8, offset=1, minimum=9, maximum=49, default=49)

SEED: Final = ModelProfile(
    name="modelscope-t2v",
    title="ModelScope text-to-video 1.7B (the seed model)",
    model_id="damo-vilab/text-to-video-ms-1.7b",
    pipeline_classes=("TextToVideoSDPipeline",),
    sizes=(
        NamedSize("square", 256, 256),
        NamedSize("landscape", 320, 192),
        NamedSize("portrait", 192, 320),
        NamedSize("wide", 448, 256),
        NamedSize("tall", 256, 448),
    ),
    frames=FrameRule(step=1, offset=0, minimum=1, maximum=32, default=16),
    steps=Bounds(1, 50, 25),
    guidance=Bounds(0.0, 20.0, 9.0),
    fps=Bounds(1, 24, 8),
    size_multiple=8,
    dtype="float16",
    variant="fp16",
    scheduler=SchedulerChoice.DPM_SOLVER,
    memory=MemoryPlan(offload=OffloadMode.MODEL, vae_slicing=True),
    id_pattern=r"text-to-video-ms|modelscope",
    needs="about 8 GB with model offload; measured times under Performance",
)

PROFILES: Final = {
    profile.name: profile
    for profile in (
        SEED,
        ModelProfile(
            name="wan2.1-t2v-1.3b",
            title="Wan 2.1 text-to-video 1.3B",
            model_id="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            pipeline_classes=("WanPipeline",),
            sizes=_WAN_480,
            frames=_WAN_FRAMES,
            steps=Bounds(1, 50, 50),
            guidance=Bounds(0.0, 10.0, 5.0),
            fps=Bounds(1, 30, 16),
            size_multiple=16,
            dtype="bfloat16",
            negative_prompt=_WAN_NEGATIVE,
            memory=MemoryPlan(offload=OffloadMode.MODEL, vae_slicing=True, vae_tiling=False),
            id_pattern=r"1\.3b",
            needs="8.19 GB VRAM (model card); about 4 min for 5 s of 480p on an RTX 4090",
        ),
        ModelProfile(
            name="wan2.1-t2v-14b",
            title="Wan 2.1 text-to-video 14B",
            model_id="Wan-AI/Wan2.1-T2V-14B-Diffusers",
            pipeline_classes=("WanPipeline",),
            sizes=_WAN_720,
            frames=_WAN_FRAMES,
            steps=Bounds(1, 50, 50),
            guidance=Bounds(0.0, 10.0, 5.0),
            fps=Bounds(1, 30, 16),
            size_multiple=16,
            dtype="bfloat16",
            negative_prompt=_WAN_NEGATIVE,
            memory=MemoryPlan(offload=OffloadMode.GROUP, vae_slicing=True, vae_tiling=True),
            id_pattern=r"14b",
            needs="a 24 GB card with group offload, 40 GB+ whole; many minutes per 720p clip (no source figure)",
        ),
        ModelProfile(
            name="wan2.1-i2v-14b",
            title="Wan 2.1 image-to-video 14B (480p and 720p)",
            model_id="Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
            pipeline_classes=("WanImageToVideoPipeline",),
            # The 480P model by default; the 720P one (same class) takes the larger sizes too.
            sizes=(*_WAN_480, NamedSize("landscape-720p", 1280, 720), NamedSize("portrait-720p", 720, 1280)),
            frames=_WAN_FRAMES,
            steps=Bounds(1, 50, 50),
            guidance=Bounds(0.0, 10.0, 5.0),
            fps=Bounds(1, 30, 16),
            size_multiple=16,
            dtype="bfloat16",
            negative_prompt=_WAN_NEGATIVE,
            memory=MemoryPlan(offload=OffloadMode.GROUP, vae_slicing=True, vae_tiling=True),
            image_to_video=True,
            needs="a 24 GB card with group offload, 40 GB+ whole; many minutes per clip (no source figure)",
        ),
        ModelProfile(
            name="ltx-video",
            title="LTX-Video (text-to-video)",
            model_id="Lightricks/LTX-Video",
            pipeline_classes=("LTXPipeline",),
            sizes=_LTX_SIZES,
            frames=_LTX_FRAMES,
            steps=Bounds(1, 50, 50),
            guidance=Bounds(0.0, 10.0, 3.0),
            fps=Bounds(1, 30, 24),
            size_multiple=32,
            dtype="bfloat16",
            negative_prompt=_LTX_NEGATIVE,
            memory=MemoryPlan(offload=OffloadMode.MODEL, vae_slicing=True, vae_tiling=False),
            needs="a 16 GB card with model offload; 24 fps at 768×512 faster than it plays on an H100 (model card)",
        ),
        ModelProfile(
            name="ltx-video-i2v",
            title="LTX-Video (image-to-video)",
            model_id="Lightricks/LTX-Video",
            pipeline_classes=("LTXImageToVideoPipeline", "LTXConditionPipeline"),
            sizes=_LTX_SIZES,
            frames=_LTX_FRAMES,
            steps=Bounds(1, 50, 50),
            guidance=Bounds(0.0, 10.0, 3.0),
            fps=Bounds(1, 30, 24),
            size_multiple=32,
            dtype="bfloat16",
            negative_prompt=_LTX_NEGATIVE,
            memory=MemoryPlan(offload=OffloadMode.MODEL, vae_slicing=True, vae_tiling=False),
            image_to_video=True,
            loads_weights_of=("LTXPipeline",),
            needs="as LTX-Video; MODEL_ID may stay Lightricks/LTX-Video (same weights)",
        ),
        ModelProfile(
            name="cogvideox-2b",
            title="CogVideoX 2B",
            model_id="THUDM/CogVideoX-2b",
            pipeline_classes=("CogVideoXPipeline",),
            sizes=_COG_SIZES,
            frames=_COG_FRAMES,
            steps=Bounds(1, 50, 50),
            guidance=Bounds(0.0, 10.0, 6.0),
            fps=Bounds(1, 16, 8),
            size_multiple=16,
            dtype="float16",
            memory=MemoryPlan(offload=OffloadMode.MODEL, vae_slicing=True, vae_tiling=True),
            id_pattern=r"2b",
            needs="12.5 GB with diffusers' memory options (model card); about 90 s per video on an A100 at 50 steps",
        ),
        ModelProfile(
            name="cogvideox-5b",
            title="CogVideoX 5B",
            model_id="THUDM/CogVideoX-5b",
            pipeline_classes=("CogVideoXPipeline",),
            sizes=_COG_SIZES,
            frames=_COG_FRAMES,
            steps=Bounds(1, 50, 50),
            guidance=Bounds(0.0, 10.0, 6.0),
            fps=Bounds(1, 16, 8),
            size_multiple=16,
            dtype="bfloat16",
            memory=MemoryPlan(offload=OffloadMode.MODEL, vae_slicing=True, vae_tiling=True),
            id_pattern=r"5b",
            needs="a 24 GB card with model offload; about 180-200 s per video on an A100 at 50 steps (model card)",
        ),
        ModelProfile(
            name="cogvideox-5b-i2v",
            title="CogVideoX 5B image-to-video",
            model_id="THUDM/CogVideoX-5b-I2V",
            pipeline_classes=("CogVideoXImageToVideoPipeline",),
            sizes=_COG_SIZES,
            frames=_COG_FRAMES,
            steps=Bounds(1, 50, 50),
            guidance=Bounds(0.0, 10.0, 6.0),
            fps=Bounds(1, 16, 8),
            size_multiple=16,
            dtype="bfloat16",
            memory=MemoryPlan(offload=OffloadMode.MODEL, vae_slicing=True, vae_tiling=True),
            image_to_video=True,
            needs="as CogVideoX 5B",
        ),
    )
}

# Known hub ids when neither MODEL_PROFILE nor a model_index.json says (first match wins).
_ID_PATTERNS: Final = (
    (r"wan2\.\d-i2v", "wan2.1-i2v-14b"),
    (r"wan2\.\d-t2v-1\.3b", "wan2.1-t2v-1.3b"),
    (r"wan2\.\d-t2v-14b", "wan2.1-t2v-14b"),
    (r"cogvideox-5b-i2v", "cogvideox-5b-i2v"),
    (r"cogvideox-5b", "cogvideox-5b"),
    (r"cogvideox-2b", "cogvideox-2b"),
    (r"ltx-video", "ltx-video"),
)


def profile_named(name: str) -> ModelProfile:
    """The shipped profile called `name`; `KeyError` with the known names otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None


def profile_for_class(class_name: str, model_id: str) -> ModelProfile | None:
    """The profile for pipelines of `class_name`, told apart by `model_id` when several share it."""
    candidates = [profile for profile in PROFILES.values() if profile.loads(class_name)]
    for profile in candidates:
        if profile.id_pattern and re.search(profile.id_pattern, model_id, re.IGNORECASE):
            return profile
    return candidates[0] if candidates else None


def detect_profile(model_id: str, hf_home: Path | None = None) -> ModelProfile:
    """The profile for `model_id` without loading it (see the module docstring); the seed's when unknown."""
    class_name = pipeline_class_name(model_id, hf_home)
    if class_name is not None:
        found = profile_for_class(class_name, model_id)
        if found is not None:
            return found
        log.warning("no profile for pipeline class %s of %s: using the seed model's limits", class_name, model_id)
        return SEED
    for pattern, name in _ID_PATTERNS:
        if re.search(pattern, model_id, re.IGNORECASE):
            return PROFILES[name]
    return SEED


def pipeline_class_name(model_id: str, hf_home: Path | None = None) -> str | None:
    """`_class_name` of the model's `model_index.json`, from a local folder or the hub cache under
    `hf_home` (default: `HF_HOME`, else ~/.cache/huggingface); None when it cannot be read."""
    folder = Path(model_id).expanduser()
    index: Path | None = folder / "model_index.json" if folder.is_dir() else _cached_index(model_id, hf_home)
    if index is None or not index.is_file():
        return None
    try:
        name = json.loads(index.read_text(encoding="utf-8")).get("_class_name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def _cached_index(model_id: str, hf_home: Path | None) -> Path | None:
    """`model_index.json` of `model_id` in the hub cache, found by path (the cache's documented layout).

    Plain file reads, no huggingface_hub: it reads HF_* variables once, when imported, and the bot
    exports those from `.env` only after its settings (and so this) are built.
    """
    if model_id.count("/") != 1:
        return None
    home = hf_home or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")).expanduser()
    hub = Path(os.environ["HF_HUB_CACHE"]) if hf_home is None and "HF_HUB_CACHE" in os.environ else home / "hub"
    repo = hub / f"models--{model_id.replace('/', '--')}"
    try:
        revision = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return repo / "snapshots" / revision / "model_index.json"
