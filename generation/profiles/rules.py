"""What a model profile is: its frame rule, sizes, scheduler and memory choices, and the profile itself."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

from generation.errors import InvalidRequestError
from generation.request import Bounds


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

    def check_shape(self, width: int, height: int, num_frames: int) -> None:
        """Raise `InvalidRequestError` naming the first of width, height and frame count the model cannot make.

        The frame count is checked against the rule's pattern only: a range is the operator's to set.
        """
        for name, side in (("width", width), ("height", height)):
            if side % self.size_multiple:
                raise InvalidRequestError(name, side, f"a multiple of {self.size_multiple} for {self.title}")
        if not self.frames.allows_shape(num_frames):
            raise InvalidRequestError("num_frames", num_frames, self.frames.describe())

    def loads(self, class_name: str) -> bool:
        """True when this profile drives pipelines of `class_name`."""
        return class_name in self.pipeline_classes


# The long negative prompt of Wan's model cards, in the English the diffusers examples use.
