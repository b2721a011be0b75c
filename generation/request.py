"""The typed, validated request for one video: what the user asked for, nothing about who asked."""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from typing import Final

from generation.errors import InvalidRequestError


@dataclass(frozen=True)
class Bounds:
    """An inclusive numeric range with a default, shared by validation and the bot's option ranges."""

    minimum: float
    maximum: float
    default: float

    def check(self, field: str, value: float) -> None:
        """Raise `InvalidRequestError` naming `field` when `value` is outside the range."""
        if not self.minimum <= value <= self.maximum:
            raise InvalidRequestError(
                field, value, BETWEEN.format(minimum=format_number(self.minimum), maximum=format_number(self.maximum))
            )


def format_number(number: float) -> str:
    """A number as people write it: `9` rather than `9.0`, `7.5` as it is."""
    return str(int(number)) if float(number).is_integer() else str(number)


#: What a refused field allows, as templates (English: a front end speaking other languages keys its
#: translations on them, as the bot's `bot/i18n/engine_texts.py` does).
BETWEEN: Final = "between {minimum} and {maximum}"
A_MULTIPLE_OF: Final = "a multiple of {multiple}"
RANGE_TEMPLATES: Final = (BETWEEN, A_MULTIPLE_OF)

MAX_PROMPT_CHARS: Final = 1000
MAX_SEED: Final = 2**32 - 1
SIZE_MULTIPLE: Final = 8

STEPS: Final = Bounds(1, 150, 25)
# Engine-wide hard bounds; each model profile narrows them (LTX-Video goes to 257 frames, Wan 14B to 1280 px).
FRAMES: Final = Bounds(1, 257, 16)
GUIDANCE: Final = Bounds(0.0, 30.0, 9.0)
FPS: Final = Bounds(1, 60, 8)
SIZE: Final = Bounds(64, 1280, 256)

# A served model's public name: members type it, so short, plain and safe to echo anywhere.
MODEL_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,31}")


def check_model_name(name: str) -> str:
    """`name` when it is a valid public model name, else `InvalidRequestError`."""
    if not MODEL_NAME.fullmatch(name):
        raise InvalidRequestError("model", name, "1-32 letters, digits, '-' or '.', starting with a letter or digit")
    return name


@dataclass(frozen=True)
class VideoRequest:
    """One text-to-video request; construction validates every field.

    `seed=None` means "draw one": the generator picks a seed and reports it back, so every result can
    be reproduced. Width and height must be multiples of 8 (the VAE downsamples by 8). `image` is the
    path of the picture an image-to-video model animates, a PNG already cropped to width × height and
    kept with the job (see `generation.conditioning`); None for text-to-video. `extend` is the path of
    an MP4 to continue, kept with the job as a picture is (`generation.extend`): the requester sets it
    and nothing else (no `image`); the engine takes the video's last frame, fitted to width × height, as
    the picture an image-to-video model animates, and delivers the original followed by the
    continuation at `fps`, which must be the original's. `model` is the public
    name of the served model that must run it; None runs it on whatever model the GPU holds (a
    deployment serving one model, or a job queued before models had names).
    """

    prompt: str
    negative_prompt: str = ""
    seed: int | None = None
    steps: int = int(STEPS.default)
    num_frames: int = int(FRAMES.default)
    guidance_scale: float = GUIDANCE.default
    fps: int = int(FPS.default)
    width: int = int(SIZE.default)
    height: int = int(SIZE.default)
    image: str | None = None
    model: str | None = None
    extend: str | None = None

    def __post_init__(self) -> None:
        prompt = " ".join(self.prompt.split())
        negative = " ".join(self.negative_prompt.split())
        object.__setattr__(self, "prompt", prompt)
        object.__setattr__(self, "negative_prompt", negative)
        if not prompt:
            raise InvalidRequestError("prompt", self.prompt, "some text describing the video")
        for name, text in (("prompt", prompt), ("negative_prompt", negative)):
            if len(text) > MAX_PROMPT_CHARS:
                raise InvalidRequestError(
                    name, f"{text[:20]}… ({len(text)} characters)", f"at most {MAX_PROMPT_CHARS} characters"
                )
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise InvalidRequestError("seed", self.seed, BETWEEN.format(minimum=0, maximum=MAX_SEED))
        STEPS.check("steps", self.steps)
        FRAMES.check("num_frames", self.num_frames)
        GUIDANCE.check("guidance_scale", self.guidance_scale)
        FPS.check("fps", self.fps)
        if self.image is not None and not self.image.strip():
            raise InvalidRequestError("image", self.image, "the path of a stored image, or none")
        if self.extend is not None and not self.extend.strip():
            raise InvalidRequestError("extend", self.extend, "the path of a stored video, or none")
        if self.extend is not None and self.image is not None:
            raise InvalidRequestError("image", self.image, "none when extending a video: its last frame is the picture")
        if self.model is not None:
            check_model_name(self.model)
        for name, size in (("width", self.width), ("height", self.height)):
            SIZE.check(name, size)
            if size % SIZE_MULTIPLE:
                raise InvalidRequestError(name, size, A_MULTIPLE_OF.format(multiple=SIZE_MULTIPLE))

    def with_seed(self, seed: int | None) -> VideoRequest:
        """The same request with another seed (`None` draws a new one): what "re-roll" submits."""
        return dataclasses.replace(self, seed=seed)

    @property
    def shape(self) -> tuple[int, int, int, int, float, bool, str | None]:
        """Requests with equal shapes can share one batched pipeline call: on the same model, with a
        picture each, or none.

        An extension has a picture too (its video's last frame), so it may share a call with pictures;
        only its encoding differs, and that is per clip.
        """
        shape = (self.width, self.height, self.num_frames, self.steps, self.guidance_scale, self.conditioned)
        return (*shape, self.model)

    @property
    def conditioned(self) -> bool:
        """True when the request animates a picture: an `image`, or the last frame of the video it extends."""
        return self.image is not None or self.extend is not None

    @property
    def cost(self) -> float:
        """Relative compute cost (frames × steps × pixels / 256²), used for ETAs."""
        # Exact rather than rounded: a shape with no history of its own is estimated from the overall
        # rate per unit, so 64² must cost a sixteenth of 256², not the same.
        return self.num_frames * self.steps * self.width * self.height / (256 * 256)


_FIELD_TYPES: Final = typing.get_type_hints(VideoRequest)


def _of_type(hint: object, value: object) -> bool:
    allowed = typing.get_args(hint) or (hint,)  # `int | None` -> (int, NoneType)
    if isinstance(value, bool):  # JSON true is no number
        return bool in allowed
    if isinstance(value, int) and float in allowed:
        return True
    return isinstance(value, allowed)


def request_from_fields(fields: object) -> VideoRequest:
    """A request rebuilt from stored fields (`dataclasses.asdict` of one), checked as a new one is.

    Stored requests are input like any other: every field must be one of `VideoRequest`'s, of its
    type, and pass its checks. Raises `InvalidRequestError` naming the first field that does not.
    """
    if not isinstance(fields, dict):
        raise InvalidRequestError("request", type(fields).__name__, "an object of request fields")
    checked: dict[str, object] = {}
    for name, value in fields.items():
        hint = _FIELD_TYPES.get(name) if isinstance(name, str) else None
        if hint is None:
            raise InvalidRequestError(str(name), "a field", f"one of {', '.join(_FIELD_TYPES)}")
        if not _of_type(hint, value):
            raise InvalidRequestError(name, value, f"of type {getattr(hint, '__name__', hint)}")
        checked[name] = float(value) if hint is float else value  # JSON writes 9.0 back as 9 at times
    return VideoRequest(**checked)  # type: ignore[arg-type]  # each value checked against its field above
