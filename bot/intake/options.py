"""The options of /video as the user sees them, and how they merge into one validated `VideoRequest`.

Precedence, highest first: explicit slash options > flags inside the prompt > channel defaults > server
defaults > deployment defaults > the engine's defaults (clamped into this server's limits). Every error
names the option as the user typed it (`frames`, `guidance`, `size`), never the engine's field name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Self

from bot.discord_io.sanitize import display_prompt
from bot.errors import InvalidOptionError, OptionConflictError
from bot.i18n import Text
from generation.errors import InvalidRequestError
from generation.profiles import SEED, FrameRule, ModelProfile
from generation.request import FPS, FRAMES, GUIDANCE, SIZE, SIZE_MULTIPLE, STEPS, Bounds, VideoRequest, format_number

#: The name users see for each `VideoRequest` field: the /video option of that name, in every message.
OPTION_NAMES: Final = {
    "prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "seed": "seed",
    "steps": "steps",
    "num_frames": "frames",
    "guidance_scale": "guidance",
    "fps": "fps",
    "width": "size",
    "height": "size",
}
_SHOWN_TEXT_CHARS: Final = 40
#: Where a value from defaults came from, said in refusals; a scope not listed is named as it is.
_FROM_DEFAULTS: Final = {
    "channel": Text("from the channel defaults, which an admin can change"),
    "server": Text("from the server defaults, which an admin can change"),
    "deployment": Text("from the deployment defaults, which an admin can change"),
}
#: Stands in for a user's prompt when defaults are checked on their own; any valid prompt would do.
_DEFAULTS_CHECK_PROMPT: Final = "defaults check"


@dataclass(frozen=True)
class VideoSize:
    """One output size the model handles well; `name` is the Discord choice value, `label` its text."""

    name: str
    width: int
    height: int

    def __post_init__(self) -> None:
        for side in (self.width, self.height):
            if side % SIZE_MULTIPLE or not SIZE.minimum <= side <= SIZE.maximum:
                raise ValueError(
                    f"size {self.name} has a side of {side}: each side must be a multiple of {SIZE_MULTIPLE} "
                    f"from {SIZE.minimum:.0f} to {SIZE.maximum:.0f}"
                )

    @property
    def label(self) -> str:
        """What a user reads in the size menu, e.g. "landscape 320×192"."""
        return f"{self.name} {self.width}×{self.height}"

    @property
    def ratio(self) -> float:
        """Width over height."""
        return self.width / self.height


#: Sizes the seed model (256² native) renders without falling apart; the first is the default.
SIZES: Final = tuple(VideoSize(size.name, size.width, size.height) for size in SEED.sizes)


def size_named(name: str, sizes: Sequence[VideoSize] = SIZES) -> VideoSize:
    """The size whose `name` is `name` (a Discord choice value); `InvalidOptionError` if there is none."""
    for size in sizes:
        if size.name == name:
            return size
    raise InvalidOptionError("size", _show(name), _one_of(sizes))


@dataclass(frozen=True)
class AspectRatio:
    """A requested shape such as 16:9, resolved against a server's sizes only when the request is built."""

    width: float
    height: float

    def __post_init__(self) -> None:
        if not (self.width > 0 and self.height > 0 and math.isfinite(self.width / self.height)):
            raise ValueError(f"an aspect ratio needs two positive numbers, got {self}")

    def __str__(self) -> str:
        return f"{format_number(self.width)}:{format_number(self.height)}"

    def nearest(self, sizes: Sequence[VideoSize]) -> VideoSize:
        """The size closest in shape; compared on a log scale so 2:1 and 1:2 are equally far from 1:1."""
        wanted = math.log(self.width / self.height)
        return min(sizes, key=lambda size: abs(math.log(size.ratio) - wanted))


@dataclass(frozen=True, kw_only=True)
class _OptionValues:
    negative_prompt: str | None = None
    seed: int | None = None
    steps: int | None = None
    num_frames: int | None = None
    guidance_scale: float | None = None
    fps: int | None = None
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        # A size is one choice; half of one would silently pair with another source's other half.
        if (self.width is None) != (self.height is None):
            raise ValueError("width and height must be given together")

    @classmethod
    def from_options(
        cls,
        *,
        negative_prompt: str | None = None,
        seed: int | None = None,
        steps: int | None = None,
        frames: int | None = None,
        guidance: float | None = None,
        fps: int | None = None,
        size: VideoSize | None = None,
        **extra: str | None,
    ) -> Self:
        """Build from options as users name them (`frames`, `guidance`, a `size` choice)."""
        return cls(
            negative_prompt=negative_prompt,
            seed=seed,
            steps=steps,
            num_frames=frames,
            guidance_scale=guidance,
            fps=fps,
            width=size.width if size else None,
            height=size.height if size else None,
            **extra,
        )


@dataclass(frozen=True, kw_only=True)
class OptionOverrides(_OptionValues):
    """Options given for one request (slash options or prompt flags); `None` means "not given"."""


@dataclass(frozen=True, kw_only=True)
class ChannelDefaults(_OptionValues):
    """Defaults an admin set for one scope; `scope` names it in messages ("channel", "server", ...).

    `model` is the public name of the model `/video` uses here when the member names none.
    """

    scope: str = "channel"
    model: str | None = None


@dataclass(frozen=True)
class ParsedPrompt:
    """A prompt with its flags taken out: the text for the model and the options the flags set.

    `aspect` is kept unresolved because the size it maps to depends on the server's allowed sizes.
    """

    prompt: str
    overrides: OptionOverrides = field(default_factory=OptionOverrides)
    aspect: AspectRatio | None = None

    def __post_init__(self) -> None:
        if self.aspect is not None and self.overrides.width is not None:
            raise ValueError("a prompt sets either an aspect ratio or a size, not both")


@dataclass(frozen=True, kw_only=True)
class RequestLimits:
    """This deployment's limits, at most the engine's hard bounds; built from settings at start-up.

    `profile` is the active model profile: it gives the frame rule (capped at `max_frames`), the
    defaults for what a request leaves out, and whether requests animate an image.
    """

    max_steps: int = 50
    max_frames: int = 32
    max_guidance: float = 20.0
    max_fps: int = 24
    sizes: tuple[VideoSize, ...] = SIZES
    profile: ModelProfile = SEED

    @classmethod
    def of_profile(cls, profile: ModelProfile) -> Self:
        """The limits `profile` itself sets: what a model other than the configured one is held to."""
        return cls(
            max_steps=int(profile.steps.maximum),
            max_frames=profile.frames.maximum,
            max_guidance=profile.guidance.maximum,
            max_fps=int(profile.fps.maximum),
            sizes=tuple(VideoSize(size.name, size.width, size.height) for size in profile.sizes),
            profile=profile,
        )

    @property
    def frame_rule(self) -> FrameRule:
        """The frame counts a request may have here: the model's rule up to `max_frames`."""
        return self.profile.frames.capped(self.max_frames)

    @property
    def image_to_video(self) -> bool:
        """True when every request animates an attached picture."""
        return self.profile.image_to_video

    def __post_init__(self) -> None:
        for name, value, engine in (
            ("max_steps", self.max_steps, STEPS),
            ("max_frames", self.max_frames, FRAMES),
            ("max_guidance", self.max_guidance, GUIDANCE),
            ("max_fps", self.max_fps, FPS),
        ):
            if not engine.minimum <= value <= engine.maximum:
                raise ValueError(f"{name} must be between {engine.minimum} and {engine.maximum}, got {value}")
        if not self.sizes:
            raise ValueError("at least one size must be allowed")
        self.profile.frames.capped(self.max_frames)


@dataclass(frozen=True)
class PreparedRequest:
    """A validated request and what was changed to make it fit the model, said to the user."""

    request: VideoRequest
    adjustments: tuple[Text, ...] = ()


_FIELDS: Final = tuple(option.name for option in dataclasses.fields(_OptionValues))


def build_request(
    prompt: ParsedPrompt,
    explicit: OptionOverrides,
    defaults: Sequence[ChannelDefaults],
    limits: RequestLimits,
) -> VideoRequest:
    """`prepare_request`'s request, without the adjustments it reports."""
    return prepare_request(prompt, explicit, defaults, limits).request


def prepare_request(
    prompt: ParsedPrompt,
    explicit: OptionOverrides,
    defaults: Sequence[ChannelDefaults],
    limits: RequestLimits,
) -> PreparedRequest:
    """Merge every source of options into one validated request, fitted to the model's frame rule.

    `defaults` is ordered most specific first (thread or channel, then server, then deployment-wide).
    Raises `OptionConflictError` when a slash option and a prompt flag disagree, and
    `InvalidOptionError` (user-facing names) when a value is outside this server's limits or the engine's,
    or a frame count off the model's rule when its profile refuses rather than rounds.
    """
    flags = prompt.overrides
    if prompt.aspect is not None:
        nearest = prompt.aspect.nearest(limits.sizes)
        flags = dataclasses.replace(flags, width=nearest.width, height=nearest.height)
    _check_agreement(explicit, flags, prompt.aspect)
    merged, notes = _merge((explicit, flags, *defaults))
    width, height = _allowed_size(merged, notes, limits.sizes)
    profile, rule = limits.profile, limits.frame_rule
    try:
        frames = int(_within("num_frames", merged.num_frames, FRAMES, limits.max_frames, rule.default, notes))
        fitted = rule.fit(frames)
        request = VideoRequest(
            prompt=prompt.prompt,
            negative_prompt=merged.negative_prompt or "",
            seed=merged.seed,
            steps=int(_within("steps", merged.steps, STEPS, limits.max_steps, profile.steps.default, notes)),
            num_frames=fitted,
            guidance_scale=float(
                _within(
                    "guidance_scale",
                    merged.guidance_scale,
                    GUIDANCE,
                    limits.max_guidance,
                    profile.guidance.default,
                    notes,
                )
            ),
            fps=int(_within("fps", merged.fps, FPS, limits.max_fps, profile.fps.default, notes)),
            width=width,
            height=height,
        )
    except InvalidRequestError as err:
        option = OPTION_NAMES.get(err.field, err.field)
        raise InvalidOptionError(option, _show(err.value), err.allowed, note=notes.get(err.field, "")) from err
    if fitted == frames:
        return PreparedRequest(request)
    # Kept as its values, not as words: the job's context stores them, and each reader's language says them.
    said = Text(
        "frames {frames} → {fitted}: {model} makes {pattern} frames",
        frames=frames,
        fitted=fitted,
        model=profile.title,
        pattern=rule.pattern(),  # the engine's (`8k+1`): the same in every language
    )
    return PreparedRequest(request, (said,))


def check_defaults(defaults: ChannelDefaults, limits: RequestLimits) -> None:
    """Raise `InvalidOptionError` (user-facing names) when a `/video` using `defaults` would be refused.

    It builds a request the way `/video` does, so defaults that pass cannot make every later `/video`
    in their scope fail (until the limits themselves are lowered).
    """
    # Checked as explicit options, not as defaults: the admin reads the error, so it must not say
    # the value came "from the defaults, which an admin can change".
    given = OptionOverrides(**{name: getattr(defaults, name) for name in _FIELDS})
    prepared = prepare_request(ParsedPrompt(_DEFAULTS_CHECK_PROMPT), given, (), limits)
    if prepared.adjustments and defaults.num_frames is not None:
        # A default would be changed on every /video it applies to: better fixed once, here.
        raise InvalidOptionError("frames", _show(defaults.num_frames), limits.frame_rule.describe())


def recheck_request(request: VideoRequest, limits: RequestLimits) -> VideoRequest:
    """`request` built again under `limits`, which may be narrower than when it was first accepted.

    Raises `InvalidOptionError` (user-facing names) for a setting this server no longer allows. The
    prompt is taken as it is: its flags were parsed out when the request was first built.
    """
    settings = OptionOverrides(
        negative_prompt=request.negative_prompt or None,
        seed=request.seed,
        steps=request.steps,
        num_frames=request.num_frames,
        guidance_scale=request.guidance_scale,
        fps=request.fps,
        width=request.width,
        height=request.height,
    )
    return build_request(ParsedPrompt(request.prompt), settings, (), limits)


def _check_agreement(explicit: OptionOverrides, flags: OptionOverrides, aspect: AspectRatio | None) -> None:
    for name in _FIELDS:
        slash, flag = getattr(explicit, name), getattr(flags, name)
        if slash is None or flag is None or slash == flag:
            continue
        if name in ("width", "height"):
            said = f"{flags.width}×{flags.height}"
            raise OptionConflictError(
                "size",
                f"{explicit.width}×{explicit.height}",
                f"-ar {aspect} ({said})" if aspect is not None else said,
            )
        raise OptionConflictError(OPTION_NAMES[name], _show(slash), _show(flag))


def _merge(sources: Sequence[_OptionValues]) -> tuple[OptionOverrides, dict[str, Text]]:
    """The first value given for each field, and for those taken from defaults, a note saying whose."""
    chosen: dict[str, object] = {}
    notes: dict[str, Text] = {}
    for name in _FIELDS:
        for source in sources:
            value = getattr(source, name)
            if value is not None:
                chosen[name] = value
                if isinstance(source, ChannelDefaults):
                    notes[name] = _FROM_DEFAULTS.get(source.scope) or Text(
                        "from the {scope} defaults, which an admin can change", scope=source.scope
                    )
                break
    return OptionOverrides(**chosen), notes  # type: ignore[arg-type]


def _within(
    name: str, value: float | None, engine: Bounds, maximum: float, default: float, notes: dict[str, Text]
) -> float:
    """`value`, or the model's `default` clamped to this server's maximum when nothing set it."""
    if value is None:
        return min(default, maximum)
    if not engine.minimum <= value <= maximum:
        raise InvalidOptionError(
            OPTION_NAMES[name],
            _show(value),
            Text(
                "between {low} and {high} on this server",
                low=format_number(engine.minimum),
                high=format_number(maximum),
            ),
            note=notes.get(name, ""),
        )
    return value


def _allowed_size(merged: OptionOverrides, notes: dict[str, Text], sizes: Sequence[VideoSize]) -> tuple[int, int]:
    if merged.width is None or merged.height is None:
        return sizes[0].width, sizes[0].height
    if all((size.width, size.height) != (merged.width, merged.height) for size in sizes):
        raise InvalidOptionError(
            "size",
            f"{merged.width}×{merged.height}",
            Text("{sizes} on this server", sizes=_one_of(sizes)),
            note=notes.get("width", ""),
        )
    return merged.width, merged.height


def _one_of(sizes: Sequence[VideoSize]) -> Text:
    return Text("one of {sizes}", sizes=", ".join(size.label for size in sizes))


def _show(value: object) -> str:
    """A value as error messages show it: numbers plainly, text quoted, escaped and shortened."""
    if isinstance(value, int | float):
        return format_number(value)
    return f"“{display_prompt(str(value), _SHOWN_TEXT_CHARS)}”"
