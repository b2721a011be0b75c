"""`/video`: options with Discord-native ranges and choices, validated before anything is queued.

The command is built when the cog loads because its ranges come from this deployment's settings and
model profile; this module therefore keeps real (not postponed) annotations, which discord.py reads to
build options. With an image-to-video model `/video` takes a required `image` attachment; with a
text-to-video model it has no such option.
"""

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.intake.actions import JobActions
from bot.intake.options import OptionOverrides, RequestLimits, size_named
from bot.intake.prompt_flags import parse_prompt_flags
from generation.request import MAX_PROMPT_CHARS, MAX_SEED

_DESCRIPTIONS = {
    "prompt": 'What should happen in the video (flags like -seed 42 -neg "blurry" work here too)',
    "negative_prompt": "What the video should avoid",
    "seed": "Same seed + same settings = same video (random when empty)",
    "steps": "Denoising steps: more is slower and often cleaner",
    "guidance": "How strictly to follow the prompt",
    "fps": "Frames per second of the MP4",
    "size": "Output size",
}


def build_video_command(
    actions: JobActions, limits: RequestLimits, image_max_bytes: int
) -> app_commands.Command[Any, Any, None]:
    """The `/video` command with this deployment's limits as option ranges."""
    rule = limits.frame_rule
    size_choices = [app_commands.Choice(name=size.label, value=size.name) for size in limits.sizes]
    frames_text = "Number of frames (length = frames / fps)"
    if rule.step > 1:
        frames_text = f"Number of frames, {rule.pattern()} for this model (length = frames / fps)"

    async def submit(
        interaction: discord.Interaction[Any], prompt: str, image: discord.Attachment | None, **options: Any
    ) -> None:
        size = options.pop("size")
        explicit = OptionOverrides.from_options(**options, size=size_named(size, limits.sizes) if size else None)
        await actions.submit_new(interaction, parse_prompt_flags(prompt), explicit, image)

    if limits.image_to_video:

        @app_commands.command(name="video", description="Animate a picture, guided by a prompt")
        @app_commands.describe(
            image=f"The picture to animate ({_image_text(image_max_bytes)})", frames=frames_text, **_DESCRIPTIONS
        )
        @app_commands.choices(size=size_choices)
        async def video_from_image(
            interaction: discord.Interaction[Any],
            prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
            image: discord.Attachment,
            negative_prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS] | None = None,
            seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
            steps: app_commands.Range[int, 1, limits.max_steps] | None = None,
            frames: app_commands.Range[int, rule.minimum, rule.maximum] | None = None,
            guidance: app_commands.Range[float, 0.0, limits.max_guidance] | None = None,
            fps: app_commands.Range[int, 1, limits.max_fps] | None = None,
            size: str | None = None,
        ) -> None:
            await submit(
                interaction, prompt, image, negative_prompt=negative_prompt, seed=seed, steps=steps,
                frames=frames, guidance=guidance, fps=fps, size=size,
            )  # fmt: skip

        return video_from_image

    @app_commands.command(name="video", description="Turn a prompt into a short video")
    @app_commands.describe(frames=frames_text, **_DESCRIPTIONS)
    @app_commands.choices(size=size_choices)
    async def video(
        interaction: discord.Interaction[Any],
        prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
        negative_prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        steps: app_commands.Range[int, 1, limits.max_steps] | None = None,
        frames: app_commands.Range[int, rule.minimum, rule.maximum] | None = None,
        guidance: app_commands.Range[float, 0.0, limits.max_guidance] | None = None,
        fps: app_commands.Range[int, 1, limits.max_fps] | None = None,
        size: str | None = None,
    ) -> None:
        await submit(
            interaction, prompt, None, negative_prompt=negative_prompt, seed=seed, steps=steps, frames=frames,
            guidance=guidance, fps=fps, size=size,
        )  # fmt: skip

    return video


def _image_text(image_max_bytes: int) -> str:
    return f"PNG, JPEG or WebP, up to {image_max_bytes / 2**20:g} MiB"


class VideoCog(commands.Cog):
    """Making videos."""

    def __init__(
        self, tree: app_commands.CommandTree[Any], actions: JobActions, limits: RequestLimits, image_max_bytes: int
    ) -> None:
        self._tree = tree
        self._actions = actions
        self._limits = limits
        self._image_max_bytes = image_max_bytes

    async def cog_load(self) -> None:
        """Register `/video` with ranges from settings."""
        self._tree.add_command(build_video_command(self._actions, self._limits, self._image_max_bytes))
