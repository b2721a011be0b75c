"""How a job looks in Discord at each stage: one embed per state, always safe to echo.

Each is said by a `Speaker` (the member's language for their own status, the server's for a public
post); left out, the current one (`bot.i18n.current_speaker`: the member whose interaction is handled).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import discord

from bot.discord_io.sanitize import display_prompt
from bot.i18n import Speaker, Text, current_speaker, marked
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


def quota_refusal(used: int, limit: int, resets_at: float, speaker: Speaker) -> str:
    """Why a `/video` was refused for the member's daily quota, and when the next one is possible."""
    if limit == 0:
        return speaker.say("Your daily video quota here is 0, so you can't make videos here.")
    at = math.ceil(resets_at)  # never a moment too early
    return speaker.say(
        "You've made {used} of your {limit} videos for today. Your next video is possible {when} (at {time}).",
        used=used,
        limit=limit,
        when=relative_time(at),
        time=clock_time(at),
    )


def ready_at(now: float, eta_s: float | None) -> float | None:
    """The epoch time an ETA in seconds from `now` points at (None when unknown)."""
    return None if eta_s is None else now + max(eta_s, 0.0)


def settings_text(request: VideoRequest, seed: int | None, speaker: Speaker | None = None) -> str:
    """The settings that reproduce a video, one compact line (the model first, when the request names one)."""
    speaker = speaker or current_speaker()
    say = speaker.say
    model = say("model {model} · ", model=request.model) if request.model else ""
    return model + say(
        "seed {seed} · {steps} steps · {frames} frames @ {fps} fps · {width}×{height} · guidance {guidance}",
        seed=say("random") if seed is None else seed,
        steps=request.steps,
        frames=request.num_frames,
        fps=request.fps,
        width=request.width,
        height=request.height,
        guidance=speaker.number(request.guidance_scale),
    )


def _base(title: str, colour: discord.Colour, request: VideoRequest, user_id: int, speaker: Speaker) -> discord.Embed:
    embed = discord.Embed(
        title=speaker.say(title), colour=colour, description=display_prompt(request.prompt, PROMPT_LIMIT)
    )
    embed.add_field(name=speaker.say("Requested by"), value=f"<@{user_id}>", inline=True)
    if request.negative_prompt:
        embed.add_field(
            name=speaker.say("Negative prompt"), value=display_prompt(request.negative_prompt, 300), inline=False
        )
    return embed


def queued_embed(
    request: VideoRequest,
    user_id: int,
    position: int,
    ready: float | None,
    *,
    recovered: bool = False,
    adjustments: Sequence[str | Text] = (),
    waiting_for: str | None = None,
    speaker: Speaker | None = None,
) -> discord.Embed:
    """Waiting in line: position and, when known, when it should be done (`ready`, epoch seconds).

    `waiting_for` names the job's model when no live worker serves it: the job waits for one.
    """
    speaker = speaker or current_speaker()
    say = speaker.say
    embed = _base(marked("⏳ Queued"), COLOUR_QUEUED, request, user_id, speaker)
    embed.add_field(name=say("Position"), value=f"#{position}", inline=True)
    embed.add_field(
        name=say("Ready"), value=relative_time(ready) if ready is not None else say("estimating…"), inline=True
    )
    if waiting_for is not None:
        embed.add_field(
            name=say("Waiting"),
            value=say("waiting for a worker that serves `{model}`", model=waiting_for),
            inline=False,
        )
    _note_adjustments(embed, adjustments, speaker)
    embed.set_footer(text=settings_text(request, request.seed, speaker))
    if recovered:
        embed.title = say("⏳ Queued again after a restart")
    return embed


def running_embed(
    request: VideoRequest,
    user_id: int,
    step: int,
    total: int,
    elapsed_s: float,
    ready: float | None = None,
    *,
    adjustments: Sequence[str | Text] = (),
    loading: str | None = None,
    speaker: Speaker | None = None,
) -> discord.Embed:
    """Generating: a progress bar, step i/n, the time so far and, when known, when it should be done.

    `loading` names the model the GPU loads first (it held another one), until the first step.
    """
    speaker = speaker or current_speaker()
    say = speaker.say
    embed = _base(marked("🎬 Generating"), COLOUR_RUNNING, request, user_id, speaker)
    if loading is not None:
        embed.add_field(name=say("Model"), value=say("loading `{model}`", model=loading), inline=False)
    progress = f"{progress_bar(step, total)}\n" + say("step {step}/{total}", step=step, total=total)
    embed.add_field(name=say("Progress"), value=progress, inline=False)
    seconds = speaker.number(round(elapsed_s))
    embed.add_field(name=say("Elapsed"), value=say("{seconds} s", seconds=seconds), inline=True)
    if ready is not None:
        embed.add_field(name=say("Ready"), value=relative_time(ready), inline=True)
    _note_adjustments(embed, adjustments, speaker)
    embed.set_footer(text=settings_text(request, request.seed, speaker))
    return embed


def finished_embed(
    result: VideoResult,
    user_id: int,
    elapsed_s: float,
    *,
    adjustments: Sequence[str | Text] = (),
    speaker: Speaker | None = None,
) -> discord.Embed:
    """Done: everything needed to reproduce the video."""
    speaker = speaker or current_speaker()
    say = speaker.say
    embed = _base(marked("✅ Done"), COLOUR_DONE, result.request, user_id, speaker)
    embed.add_field(name=say("Seed"), value=str(result.seed), inline=True)
    seconds = speaker.number(round(elapsed_s))
    embed.add_field(name=say("Time"), value=say("{seconds} s", seconds=seconds), inline=True)
    _note_adjustments(embed, adjustments, speaker)
    embed.set_footer(text=settings_text(result.request, result.seed, speaker))
    return embed


def _note_adjustments(embed: discord.Embed, adjustments: Sequence[str | Text], speaker: Speaker) -> None:
    # Kept on every state the video is made in, so what changed from the request stays explained.
    if adjustments:
        embed.add_field(
            name=speaker.say("Adjusted to fit the model"),
            value="\n".join(speaker.say(each) for each in adjustments),
            inline=False,
        )


def failed_embed(request: VideoRequest, user_id: int, reason: str, speaker: Speaker | None = None) -> discord.Embed:
    """Failed: the reason, written for the user."""
    speaker = speaker or current_speaker()
    embed = _base(marked("⚠️ Failed"), COLOUR_FAILED, request, user_id, speaker)
    embed.add_field(name=speaker.say("Reason"), value=display_prompt(reason, 1000), inline=False)
    embed.set_footer(text=settings_text(request, request.seed, speaker))
    return embed


def cancelled_embed(request: VideoRequest, user_id: int, by: Actor, speaker: Speaker | None = None) -> discord.Embed:
    """Cancelled, and by whom."""
    speaker = speaker or current_speaker()
    embed = _base(marked("🚫 Cancelled"), COLOUR_CANCELLED, request, user_id, speaker)
    embed.add_field(name=speaker.say("Cancelled by"), value=_who(by, user_id, speaker), inline=True)
    return embed


def _who(by: Actor, user_id: int, speaker: Speaker) -> str:
    match by:
        case Person(id=person):
            return speaker.say("you") if person == str(user_id) else f"<@{person}>"
        case SystemActor.BOT:
            return speaker.say("the bot (Discord could not be told it was queued)")
        case SystemActor.UNKNOWN:
            return speaker.say("someone")
