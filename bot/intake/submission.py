"""Turning a validated request into a queued job with a live status message.

Used by `/video`, the Re-roll button and the Remix form alike, so every path applies the same checks,
the same fairness and the same 3-second acknowledgement.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import discord

from bot.delivery.job_context import JobContext
from bot.delivery.live_jobs import LiveJobs
from bot.discord_io import render
from bot.discord_io.acknowledgement import Acknowledgement, AnswerVisibility
from bot.discord_io.calls import describe
from bot.discord_io.permissions import needed_permissions
from bot.discord_io.views import status_view
from bot.errors import MissingPermissionsError, NotAcknowledgedError
from bot.i18n import Text, speaker_for
from generation.clock import Clock
from generation.queue.allowance import Allowance
from generation.queue.interface import JobHandle, JobQueue, JobQueued, JobSpec, SystemActor
from generation.request import VideoRequest

log = logging.getLogger(__name__)
audit = logging.getLogger("videobot.audit")


def missing_permissions(interaction: discord.Interaction[Any]) -> list[str]:
    """Channel permissions the bot needs for fallback delivery but lacks (none needed in DMs)."""
    if interaction.guild_id is None:
        return []
    have = interaction.app_permissions
    return [name for name, needed in needed_permissions(interaction.channel) if needed and not getattr(have, name)]


class Submitter:
    """Queues jobs for interactions, answers with their status message and has them followed."""

    def __init__(self, queue: JobQueue, following: LiveJobs, clock: Clock) -> None:
        self._queue = queue
        self._following = following
        self._clock = clock

    async def submit(
        self,
        ack: Acknowledgement,
        request: VideoRequest,
        adjustments: Sequence[Text] = (),
        *,
        waiting_for: str | None = None,
        allowance: Allowance | None = None,
        server_language: str | None = None,
    ) -> str:
        """Queue `request` for the interaction's user and answer with the status message; return the job id.

        `adjustments` (what was changed to fit the model, e.g. a frame count rounded to its rule) are
        shown on the status message, so nothing the user asked for changes unseen. `waiting_for` names
        the request's model when no live worker serves it, for the status to say what the job waits for.
        `allowance` is the member's (quota, jobs held, weight) for the queue to enforce; None limits nothing.
        `server_language` is the server's rule for its public posts (a Discord locale); None follows the
        server's language in Discord. Both languages are kept with the job, so a restart still speaks them.

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
            adjustments=tuple(adjustments),
            locale=_locale(interaction.locale),
            public_locale=server_language or _locale(interaction.guild_locale),
        )
        spec = JobSpec(
            request=request,
            owner_id=str(interaction.user.id),
            group_id=str(interaction.guild_id or ""),
            context=context.dumps(),
            allowance=allowance or Allowance(),
        )
        handle = await self._queue.submit(spec)
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
        ready = render.ready_at(self._clock.time(), info.eta_s)
        speaker = speaker_for(context.locale)
        embed = render.queued_embed(
            request,
            context.user_id,
            info.position or 1,
            ready,
            adjustments=adjustments,
            waiting_for=waiting_for,
            speaker=speaker,
        )
        answer = await ack.respond(embed=embed, view=status_view(job_id, speaker))
        message_id = answer.message_id
        if answer.shown is AnswerVisibility.NOT_SHOWN:
            raise await self._take_back(handle, answer.error)
        if message_id is None:
            # Discord may have shown it (a dropped connection, or a retry told it already got through): look.
            message_id = await _original_message_id(interaction, job_id)
            if message_id is None and answer.shown is AnswerVisibility.UNKNOWN:
                raise await self._take_back(handle, answer.error)
        showing = JobQueued(job_id, info.position or 1, info.eta_s)
        self._following.follow_new(job_id, request, context, message_id, showing, waiting_for=waiting_for)
        ack_ms = (self._clock.time() - context.interaction_created_at) * 1000
        log.info(
            "job acknowledged job_id=%s user_id=%s guild_id=%s position=%s ack_ms=%.0f deferred=%s",
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
            await asyncio.shield(handle.cancel(by=SystemActor.BOT))
            # The error reply tells the user; a restart must not post the cancellation again.
            await asyncio.shield(self._queue.acknowledge(job_id))
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


def _locale(locale: discord.Locale | None) -> str | None:
    return None if locale is None else locale.value


def _channel_id(interaction: discord.Interaction[Any]) -> int:
    if interaction.channel_id is None:
        raise RuntimeError("interaction without a channel")
    return interaction.channel_id
