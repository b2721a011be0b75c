"""Turning a validated request into a queued job with a live status message.

Used by `/video`, the Re-roll button and the Remix form alike, so every path applies the same checks,
the same fairness and the same 3-second acknowledgement.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord

from bot import render
from bot.acknowledgement import Acknowledgement, Shown
from bot.discord_calls import describe
from bot.job_context import JobContext
from bot.permissions import needed_permissions
from bot.views import status_view
from generation.errors import VideoBotError
from generation.queue.interface import JobHandle, JobQueued, JobSpec
from generation.request import VideoRequest

if TYPE_CHECKING:
    from bot.client import VideoBot

log = logging.getLogger(__name__)
audit = logging.getLogger("videobot.audit")


class MissingPermissionsError(Exception):
    """The bot lacks a channel permission it needs to deliver (checked before queuing)."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        names = ", ".join(name.replace("_", " ").title() for name in missing)
        super().__init__(
            f"I can't post videos here: I'm missing the {names} permission in this channel. "
            "Ask a server admin to grant it, or use another channel."
        )


class NotAcknowledgedError(VideoBotError):
    """Discord could not be told the job was queued, so it was taken back (the user saw nothing of it)."""

    def __init__(self) -> None:
        super().__init__("I couldn't reach Discord to confirm your video, so I didn't queue it. Please try again.")


def missing_permissions(interaction: discord.Interaction[Any]) -> list[str]:
    """Channel permissions the bot needs for fallback delivery but lacks (none needed in DMs)."""
    if interaction.guild_id is None:
        return []
    have = interaction.app_permissions
    return [name for name, needed in needed_permissions(interaction.channel) if needed and not getattr(have, name)]


class Submitter:
    """Queues jobs for interactions, answers with their status message and starts their trackers."""

    def __init__(self, bot: VideoBot) -> None:
        self._bot = bot

    async def submit(self, ack: Acknowledgement, request: VideoRequest) -> str:
        """Queue `request` for the interaction's user and answer with the status message; return the job id.

        Raises the queue's refusals (`QueueError` subclasses) and `MissingPermissionsError` before
        anything is shown, so the caller answers with an ephemeral error instead. The status says
        "queued" only once the job is saved; if saving outlasts the acknowledgement budget, the user
        sees "thinking…" until then. A job whose acknowledgement provably never reached the user is
        taken back (`NotAcknowledgedError`).
        """
        interaction = ack.interaction
        missing = missing_permissions(interaction)
        if missing:
            raise MissingPermissionsError(missing)
        context = JobContext(
            user_id=interaction.user.id,
            channel_id=_channel_id(interaction),
            guild_id=interaction.guild_id,
            application_id=interaction.application_id,
            interaction_token=interaction.token,
            interaction_created_at=interaction.created_at.timestamp(),
            attachment_size_limit=interaction.filesize_limit,
        )
        spec = JobSpec(
            request=request,
            owner_id=str(interaction.user.id),
            group_id=str(interaction.guild_id or ""),
            context=context.dumps(),
        )
        handle = await self._bot.queue.submit(spec)
        info = handle.info
        job_id = info.job_id
        who = {"job_id": job_id, "user_id": context.user_id, "guild_id": context.guild_id}
        audit.info(
            "job submitted job_id=%s user_id=%s guild_id=%s channel_id=%s prompt=%r negative=%r",
            job_id,
            context.user_id,
            context.guild_id,
            context.channel_id,
            request.prompt,
            request.negative_prompt,
            extra={**who, "channel_id": context.channel_id},
        )
        ready = render.ready_at(self._bot.clock.time(), info.eta_s)
        embed = render.queued_embed(request, context.user_id, info.position or 1, ready)
        answer = await ack.respond(embed=embed, view=status_view(job_id))
        message_id = answer.message_id
        if answer.shown is Shown.NOT_SHOWN:
            raise await self._take_back(handle, answer.error)
        if message_id is None:
            # Discord may have shown it (a dropped connection, or a retry told it already got through): look.
            message_id = await _original_message_id(interaction, job_id)
            if message_id is None and answer.shown is Shown.UNKNOWN:
                raise await self._take_back(handle, answer.error)
        tracker = self._bot.new_tracker(job_id, request, context)
        self._bot.start_tracking(tracker, handle.events())
        if message_id is None:
            tracker.attach_unknown()
        else:
            await tracker.attach(message_id, showing=JobQueued(job_id, info.position or 1, info.eta_s))
        ack_ms = (self._bot.clock.time() - context.interaction_created_at) * 1000
        log.info(
            "job queued job_id=%s user_id=%s guild_id=%s position=%s ack_ms=%.0f deferred=%s",
            job_id,
            context.user_id,
            context.guild_id,
            info.position,
            ack_ms,
            ack.deferred,
            extra={**who, "position": info.position, "ack_ms": round(ack_ms), "deferred": ack.deferred},
        )
        return job_id

    async def _take_back(self, handle: JobHandle, error: BaseException | None) -> NotAcknowledgedError:
        """Cancel a job whose acknowledgement never reached the user; the error to answer with."""
        job_id = handle.info.job_id
        log.error("could not acknowledge job_id=%s; cancelling it", job_id, exc_info=error)
        try:
            await asyncio.shield(handle.cancel(by="system"))
            # The error reply tells the user; a restart must not post the cancellation again.
            await asyncio.shield(self._bot.queue.acknowledge(job_id))
        except Exception:
            log.exception("could not cancel unacknowledged job_id=%s", job_id)
        return NotAcknowledgedError()


async def _original_message_id(interaction: discord.Interaction[Any], job_id: str) -> int | None:
    """The id of the interaction's response message, looked up; None if it does not exist or cannot be read."""
    try:
        return (await interaction.original_response()).id
    except Exception as error:
        log.warning("could not look up the status message of job_id=%s: %s", job_id, describe(error))
        return None


def _channel_id(interaction: discord.Interaction[Any]) -> int:
    if interaction.channel_id is None:
        raise RuntimeError("interaction without a channel")
    return interaction.channel_id
