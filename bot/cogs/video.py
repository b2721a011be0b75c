"""`/video`: options with Discord-native ranges and choices, validated before anything is queued.

The command is built when the cog loads because its ranges come from the served models' profiles and
this deployment's settings; this module therefore keeps real (not postponed) annotations, which
discord.py reads to build options. `model` offers the models served now (autocomplete asks the queue
as the member types, so a model that comes or goes later is offered or not). When every served model
animates pictures `/video` takes a required `image` attachment; when none does, no such option; when
they differ, or none is served yet, an optional one that the chosen model accepts or refuses.

Descriptions are `locale_str`s: the tree's translator (`bot.i18n.commands`) gives Discord each one in
every shipped language.
"""

import dataclasses
from collections.abc import Callable, Coroutine, Sequence
from enum import Enum
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.i18n import Text, speaker_for
from bot.i18n.commands import command_text
from bot.intake.actions import JobActions
from bot.intake.options import OptionOverrides, RequestLimits, VideoSize
from bot.intake.prompt_flags import parse_prompt_flags
from bot.intake.served_models import MAX_CHOICES, ServedModels
from generation.queue.interface import ServedModel
from generation.request import MAX_PROMPT_CHARS, MAX_SEED

_DESCRIPTIONS = {
    "prompt": locale_str('What should happen in the video (flags like -seed 42 -neg "blurry" work here too)'),
    "negative_prompt": locale_str("What the video should avoid"),
    "seed": locale_str("Same seed + same settings = same video (random when empty)"),
    "steps": locale_str("Denoising steps: more is slower and often cleaner"),
    "guidance": locale_str("How strictly to follow the prompt"),
    "fps": locale_str("Frames per second of the MP4"),
    "size": locale_str("Output size"),
    "model": locale_str("Which model makes it (default: this channel's, else the server's)"),
}


class ImageOption(Enum):
    """How `/video` takes a picture, from the kinds of the models served when the command is built."""

    ABSENT = "every served model makes videos from text"
    REQUIRED = "every served model animates a picture"
    OPTIONAL = "some do and some do not, or none is served yet: the chosen model decides"


def image_option(models: Sequence[ServedModel]) -> ImageOption:
    """`ABSENT` or `REQUIRED` when every served model agrees, so a one-model deployment's `/video` is as
    it always was; `OPTIONAL` otherwise (the chosen model then accepts or refuses the picture)."""
    kinds = {model.profile.image_to_video for model in models}
    if kinds == {False}:
        return ImageOption.ABSENT
    return ImageOption.REQUIRED if kinds == {True} else ImageOption.OPTIONAL


def command_limits(limits: Sequence[RequestLimits]) -> RequestLimits:
    """Limits wide enough for every served model, for `/video`'s option ranges and size menu.

    With one model these are its limits; with several, each request is held to its model's own when
    it is built, and a size name is looked up among the chosen model's sizes.
    """
    first, *others = limits
    if not others:
        return first
    sizes = {size.name: size for each in limits for size in each.sizes}
    widest = max(limits, key=lambda each: each.frame_rule.maximum)
    return dataclasses.replace(
        widest,
        max_steps=max(each.max_steps for each in limits),
        max_guidance=max(each.max_guidance for each in limits),
        max_fps=max(each.max_fps for each in limits),
        sizes=tuple(sizes.values())[:MAX_CHOICES],
    )


def build_video_command(
    actions: JobActions, models: ServedModels, served: Sequence[ServedModel], image_max_bytes: int
) -> app_commands.Command[Any, Any, None]:
    """The `/video` command for the models served now: ranges wide enough for each, a `model` menu."""
    limits = command_limits([models.limits_for(model) for model in served] or [models.limits_for_default()])
    rule = limits.frame_rule
    lowest_frames = min([rule.minimum, *(models.limits_for(model).frame_rule.minimum for model in served)])
    size_choices = [app_commands.Choice(name=_size_label(size), value=size.name) for size in limits.sizes]
    frames_text = locale_str("Number of frames (length = frames / fps)")
    if len(served) <= 1 and rule.step > 1:
        pattern = rule.pattern()
        frames_text = command_text(
            Text("Number of frames, {pattern} for this model (length = frames / fps)", pattern=pattern)
        )
    mib = format(image_max_bytes / 2**20, "g")
    image_text = command_text(Text("The picture to animate (PNG, JPEG or WebP, up to {mib} MiB)", mib=mib))
    describe = app_commands.describe(image=image_text, frames=frames_text, **_DESCRIPTIONS)
    menu = app_commands.autocomplete(model=_model_menu(models))
    choices = app_commands.choices(size=size_choices)

    async def submit(
        interaction: discord.Interaction[Any], prompt: str, image: discord.Attachment | None, **options: Any
    ) -> None:
        size, model = options.pop("size"), options.pop("model")
        explicit = OptionOverrides.from_options(**options)
        await actions.submit_new(interaction, parse_prompt_flags(prompt), explicit, image, model=model, size=size)

    kind = image_option(served)
    if kind is ImageOption.REQUIRED:

        @app_commands.command(name="video", description=locale_str("Animate a picture, guided by a prompt"))
        @describe
        @choices
        @menu
        async def video_from_image(
            interaction: discord.Interaction[Any],
            prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
            image: discord.Attachment,
            negative_prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS] | None = None,
            seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
            steps: app_commands.Range[int, 1, limits.max_steps] | None = None,
            frames: app_commands.Range[int, lowest_frames, rule.maximum] | None = None,
            guidance: app_commands.Range[float, 0.0, limits.max_guidance] | None = None,
            fps: app_commands.Range[int, 1, limits.max_fps] | None = None,
            size: str | None = None,
            model: app_commands.Range[str, 1, 32] | None = None,
        ) -> None:
            await submit(
                interaction, prompt, image, negative_prompt=negative_prompt, seed=seed, steps=steps,
                frames=frames, guidance=guidance, fps=fps, size=size, model=model,
            )  # fmt: skip

        return video_from_image

    if kind is ImageOption.OPTIONAL:

        @app_commands.command(
            name="video", description=locale_str("Turn a prompt (and a picture, for some models) into a video")
        )
        @describe
        @choices
        @menu
        async def video_any(
            interaction: discord.Interaction[Any],
            prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
            image: discord.Attachment | None = None,
            negative_prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS] | None = None,
            seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
            steps: app_commands.Range[int, 1, limits.max_steps] | None = None,
            frames: app_commands.Range[int, lowest_frames, rule.maximum] | None = None,
            guidance: app_commands.Range[float, 0.0, limits.max_guidance] | None = None,
            fps: app_commands.Range[int, 1, limits.max_fps] | None = None,
            size: str | None = None,
            model: app_commands.Range[str, 1, 32] | None = None,
        ) -> None:
            await submit(
                interaction, prompt, image, negative_prompt=negative_prompt, seed=seed, steps=steps,
                frames=frames, guidance=guidance, fps=fps, size=size, model=model,
            )  # fmt: skip

        return video_any

    @app_commands.command(name="video", description=locale_str("Turn a prompt into a short video"))
    @app_commands.describe(frames=frames_text, **_DESCRIPTIONS)
    @choices
    @menu
    async def video(
        interaction: discord.Interaction[Any],
        prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
        negative_prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        steps: app_commands.Range[int, 1, limits.max_steps] | None = None,
        frames: app_commands.Range[int, lowest_frames, rule.maximum] | None = None,
        guidance: app_commands.Range[float, 0.0, limits.max_guidance] | None = None,
        fps: app_commands.Range[int, 1, limits.max_fps] | None = None,
        size: str | None = None,
        model: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        await submit(
            interaction, prompt, None, negative_prompt=negative_prompt, seed=seed, steps=steps, frames=frames,
            guidance=guidance, fps=fps, size=size, model=model,
        )  # fmt: skip

    return video


#: The size names the model profiles use, as the size menu shows them in each language.
_SIZE_NAMES = {
    "landscape": Text("landscape"),
    "portrait": Text("portrait"),
    "square": Text("square"),
    "wide": Text("wide"),
    "tall": Text("tall"),
    "landscape-720p": Text("landscape-720p"),
    "portrait-720p": Text("portrait-720p"),
}


def _size_label(size: VideoSize) -> locale_str:
    """A size menu entry, "landscape 320×192" (`VideoSize.label`), its name in each language."""
    name = _SIZE_NAMES.get(size.name, size.name)
    return command_text(Text("{size} {width}×{height}", size=name, width=size.width, height=size.height))


def _model_menu(
    models: ServedModels,
) -> Callable[[discord.Interaction[Any], str], Coroutine[Any, Any, list[app_commands.Choice[str]]]]:
    async def menu(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        speaker = speaker_for(interaction.locale)
        return [app_commands.Choice(name=label, value=name) for label, name in await models.choices(current, speaker)]

    return menu


class VideoCog(commands.Cog):
    """Making videos."""

    def __init__(
        self, tree: app_commands.CommandTree[Any], actions: JobActions, models: ServedModels, image_max_bytes: int
    ) -> None:
        self._tree = tree
        self._actions = actions
        self._models = models
        self._image_max_bytes = image_max_bytes

    async def cog_load(self) -> None:
        """Register `/video` for the models served now, with ranges from their profiles and the settings."""
        served = await self._models.offered()
        self._tree.add_command(build_video_command(self._actions, self._models, served, self._image_max_bytes))
