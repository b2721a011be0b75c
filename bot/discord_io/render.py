"""How a job looks in Discord at each stage: one embed per state, always safe to echo."""

from __future__ import annotations

import math
from collections.abc import Sequence

import discord

from bot.discord_io.sanitize import display_prompt
from generation.queue.interface import Actor, Person, SystemActor
from generation.request import VideoRequest
from generation.results import VideoResult

COLOUR_QUEUED = discord.Colour.light_grey()
COLOUR_RUNNING = discord.Colour.blurple()
COLOUR_DONE = discord.Colour.green()
COLOUR_FAILED = discord.Colour.red()
COLOUR_CANCELLED = discord.Colour.dark_grey()

PROMPT_LIMIT = 600
BAR_WIDTH = 20


def progress_bar(step: int, total: int, width: int = BAR_WIDTH) -> str:
    """A text bar such as `▰▰▰▱▱▱ 50%`, clamped to [0, total]."""
    fraction = 0.0 if total <= 0 else min(max(step / total, 0.0), 1.0)
    filled = round(fraction * width)
    return f"{'▰' * filled}{'▱' * (width - filled)} {fraction:.0%}"


def relative_time(at: float) -> str:
    """A Discord timestamp for the epoch time `at`, which every client renders in its own words ("in 2 minutes")."""
    return f"<t:{int(at)}:R>"


def clock_time(at: float) -> str:
    """A Discord timestamp for the epoch time `at` as a time of day, in each reader's own time zone."""
    return f"<t:{int(at)}:t>"


def quota_refusal(used: int, limit: int, resets_at: float) -> str:
    """Why a `/video` was refused for the member's daily quota, and when the next one is possible."""
    if limit == 0:
        return "Your daily video quota here is 0, so you can't make videos here."
    at = math.ceil(resets_at)  # never a moment too early
    return (
        f"You've made {used} of your {limit} videos for today. "
        f"Your next video is possible {relative_time(at)} (at {clock_time(at)})."
    )


def ready_at(now: float, eta_s: float | None) -> float | None:
    """The epoch time an ETA in seconds from `now` points at (None when unknown)."""
    return None if eta_s is None else now + max(eta_s, 0.0)


def settings_text(request: VideoRequest, seed: int | None) -> str:
    """The settings that reproduce a video, one compact line (the model first, when the request names one)."""
    seed_text = "random" if seed is None else str(seed)
    model = f"model {request.model} · " if request.model else ""
    return (
        f"{model}seed {seed_text} · {request.steps} steps · {request.num_frames} frames @ {request.fps} fps · "
        f"{request.width}×{request.height} · guidance {request.guidance_scale:g}"
    )


def _base(title: str, colour: discord.Colour, request: VideoRequest, user_id: int) -> discord.Embed:
    embed = discord.Embed(title=title, colour=colour, description=display_prompt(request.prompt, PROMPT_LIMIT))
    embed.add_field(name="Requested by", value=f"<@{user_id}>", inline=True)
    if request.negative_prompt:
        embed.add_field(name="Negative prompt", value=display_prompt(request.negative_prompt, 300), inline=False)
    return embed


def queued_embed(
    request: VideoRequest,
    user_id: int,
    position: int,
    ready: float | None,
    *,
    recovered: bool = False,
    adjustments: Sequence[str] = (),
    waiting_for: str | None = None,
) -> discord.Embed:
    """Waiting in line: position and, when known, when it should be done (`ready`, epoch seconds).

    `waiting_for` names the job's model when no live worker serves it: the job waits for one.
    """
    embed = _base("⏳ Queued", COLOUR_QUEUED, request, user_id)
    embed.add_field(name="Position", value=f"#{position}", inline=True)
    embed.add_field(name="Ready", value=relative_time(ready) if ready is not None else "estimating…", inline=True)
    if waiting_for is not None:
        embed.add_field(name="Waiting", value=f"waiting for a worker that serves `{waiting_for}`", inline=False)
    _note_adjustments(embed, adjustments)
    embed.set_footer(text=settings_text(request, request.seed))
    if recovered:
        embed.title = "⏳ Queued again after a restart"
    return embed


def running_embed(
    request: VideoRequest,
    user_id: int,
    step: int,
    total: int,
    elapsed_s: float,
    ready: float | None = None,
    *,
    adjustments: Sequence[str] = (),
    loading: str | None = None,
) -> discord.Embed:
    """Generating: a progress bar, step i/n, the time so far and, when known, when it should be done.

    `loading` names the model the GPU loads first (it held another one), until the first step.
    """
    embed = _base("🎬 Generating", COLOUR_RUNNING, request, user_id)
    if loading is not None:
        embed.add_field(name="Model", value=f"loading `{loading}`", inline=False)
    embed.add_field(name="Progress", value=f"{progress_bar(step, total)}\nstep {step}/{total}", inline=False)
    embed.add_field(name="Elapsed", value=f"{elapsed_s:.0f} s", inline=True)
    if ready is not None:
        embed.add_field(name="Ready", value=relative_time(ready), inline=True)
    _note_adjustments(embed, adjustments)
    embed.set_footer(text=settings_text(request, request.seed))
    return embed


def finished_embed(
    result: VideoResult, user_id: int, elapsed_s: float, *, adjustments: Sequence[str] = ()
) -> discord.Embed:
    """Done: everything needed to reproduce the video."""
    embed = _base("✅ Done", COLOUR_DONE, result.request, user_id)
    embed.add_field(name="Seed", value=str(result.seed), inline=True)
    embed.add_field(name="Time", value=f"{elapsed_s:.0f} s", inline=True)
    _note_adjustments(embed, adjustments)
    embed.set_footer(text=settings_text(result.request, result.seed))
    return embed


def _note_adjustments(embed: discord.Embed, adjustments: Sequence[str]) -> None:
    # Kept on every state the video is made in, so what changed from the request stays explained.
    if adjustments:
        embed.add_field(name="Adjusted to fit the model", value="\n".join(adjustments), inline=False)


def failed_embed(request: VideoRequest, user_id: int, reason: str) -> discord.Embed:
    """Failed: the reason, written for the user."""
    embed = _base("⚠️ Failed", COLOUR_FAILED, request, user_id)
    embed.add_field(name="Reason", value=display_prompt(reason, 1000), inline=False)
    embed.set_footer(text=settings_text(request, request.seed))
    return embed


def cancelled_embed(request: VideoRequest, user_id: int, by: Actor) -> discord.Embed:
    """Cancelled, and by whom."""
    embed = _base("🚫 Cancelled", COLOUR_CANCELLED, request, user_id)
    embed.add_field(name="Cancelled by", value=_who(by, user_id), inline=True)
    return embed


def _who(by: Actor, user_id: int) -> str:
    match by:
        case Person(id=person):
            return "you" if person == str(user_id) else f"<@{person}>"
        case SystemActor.BOT:
            return "the bot (Discord could not be told it was queued)"
        case SystemActor.UNKNOWN:
            return "someone"
