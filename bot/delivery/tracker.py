"""Follows one job's events and keeps its status message current, then delivers the outcome.

Progress arrives many times a second; edits go out at most once per `edit_interval_s` per message and
through the shared `EditLimiter`, always showing the newest state. A waiting job's place in line is
edited at most once per `position_interval_s` (longer: in a deep line every start and every end
moves everyone behind it, and a place is worth less than a progress bar), with the latest place; a
start or a step arriving meanwhile goes out at the shorter interval. Only the newest event is kept,
costs nothing until its edit is due (no lookup, no rendering), and is rendered when its edit goes
out, so a burst of events costs no more than the edits Discord will take. Terminal states are never
dropped: they are shown (or the video uploaded) after any pending edit, and a failure to tell the
user is reported in the channel as a last resort.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable

import discord

from bot.delivery.job_context import JobContext
from bot.delivery.status_message import DEFAULT_UPLOAD_LIMIT, EditLimiter, StatusMessage
from bot.delivery.upload import VideoUpload
from bot.discord_io import render
from bot.discord_io.calls import DISCORD_FAILURES, RETRY_DELAYS_S, describe, transient
from bot.discord_io.views import failed_view, result_view, status_view
from bot.i18n import Speaker, current_speaker, speaker_for
from bot.i18n.engine_texts import engine_reason
from generation.clock import Clock
from generation.errors import DoesNotFitError
from generation.queue.interface import (
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobInfo,
    JobProgress,
    JobQueued,
    JobStarted,
    ServedModel,
)
from generation.request import VideoRequest

log = logging.getLogger(__name__)


class Delivery(enum.Enum):
    """Where showing an outcome left it; the queue is told the outcome was delivered unless OWED."""

    SHOWN = "the user saw it"
    REFUSED = "refused for good (a lost permission, a deleted channel): the next start would meet it again"
    OWED = "kept from the user by a failure that may pass: the next start shows it"


class JobTracker:
    """The Discord face of one job, from queued to delivered."""

    def __init__(
        self,
        client: discord.Client,
        job_id: str,
        request: VideoRequest,
        status: StatusMessage,
        *,
        clock: Clock,
        limiter: EditLimiter,
        edit_interval_s: float,
        position_interval_s: float,
        on_discord_error: Callable[[discord.HTTPException], None],
        save_context: Callable[[JobContext], Awaitable[None]],
        acknowledge: Callable[[], Awaitable[None]],
        served: Callable[[], Awaitable[tuple[ServedModel, ...]]],
    ) -> None:
        self.job_id = job_id
        self.request = request
        self.status = status
        self._client = client
        self._clock = clock
        self._limiter = limiter
        self._interval = edit_interval_s
        self._position_interval = position_interval_s
        self._on_discord_error = on_discord_error
        self._save_context = save_context
        self._acknowledge = acknowledge
        self._served = served
        self._waiting_for: str | None = None  # the job's model, while no live worker serves it
        self._loading: str | None = None  # the model the GPU loads for this job, until its first step
        self._pending: JobQueued | JobStarted | JobProgress | None = None
        self._shown: JobQueued | JobStarted | JobProgress | None = None
        self._shown_waiting_for: str | None = None
        self._edit_in_flight: asyncio.Future[None] | None = None
        self._status_view = status_view(job_id, self._member)
        self._wake = asyncio.Event()
        self._attached = asyncio.Event()
        self._last_edit = -math.inf
        if status.message_id is not None:
            self._attached.set()

    @property
    def _member(self) -> Speaker:
        """The requester's language: their status message (a job saved before languages were kept: the
        current speaker, English after a restart)."""
        locale = self.status.context.locale
        return current_speaker() if locale is None else speaker_for(locale)

    @property
    def _public(self) -> Speaker:
        """The server's language (its rule, else Discord's): the public result post."""
        locale = self.status.context.public_locale
        return self._member if locale is None else speaker_for(locale)

    async def attach(
        self, message_id: int, *, showing: JobQueued | None = None, waiting_for: str | None = None
    ) -> None:
        """The status message exists now: edits may start, and a restart will know where it is.

        `showing` is what the message shows already (the acknowledgement's place in line): it counts as
        the latest edit, so the same state is not sent again and the next edit waits out the interval;
        `waiting_for` is the model it says the job waits for a worker of.
        """
        self.status.attach(message_id)
        if showing is not None:
            self._shown = showing
            self._waiting_for = self._shown_waiting_for = waiting_for
            self._last_edit = self._clock.monotonic()
        self._attached.set()
        await self._remember_message()

    def attach_unknown(self) -> None:
        """The acknowledgement went out but its message id is unknown: no live edits, and the outcome
        is posted in the channel as a new message."""
        self.status.use_channel()
        self._attached.set()

    async def _remember_message(self) -> None:
        try:
            await self._save_context(self.status.context)
        except Exception:
            # The job still runs and is delivered; only a restart would not find this message.
            log.exception("could not save the status message of job_id=%s", self.job_id)

    async def follow_after_restart(self, info: JobInfo, events: AsyncIterator[JobEvent]) -> None:
        """After a restart: tell the requester the job is back in line, then follow it like any other."""
        await self._announce_recovered(info)
        await self.follow(events)

    async def follow_outcome_after_restart(self, events: AsyncIterator[JobEvent]) -> None:
        """After a restart: show the outcome of a job that ended but was never shown (its stream holds
        just that) as a new channel message that pings the requester, retiring the old one."""
        async for event in events:
            if isinstance(event, JobFinished | JobFailed | JobCancelled):
                await self._announce_outcome_after_restart(event)
                return

    async def _announce_recovered(self, info: JobInfo) -> None:
        """Tell the requester in the channel that the job is back in line.

        The old status message (if any) is retired, since its interaction token has likely expired.
        """
        ready = render.ready_at(self._clock.time(), info.eta_s)
        context = self.status.context
        speaker = self._member
        embed = render.queued_embed(
            self.request,
            context.user_id,
            info.position or 1,
            ready,
            recovered=True,
            adjustments=context.adjustments,
            speaker=speaker,
        )
        try:
            await self.status.repost(
                content=speaker.say(
                    "{member} I restarted; your video is back in the queue.", member=f"<@{context.user_id}>"
                ),
                embed=embed,
                view=self._status_view,
                what="recovery notice",
                retry_delays=(),
            )
        except Exception as error:
            self._count_failure(error)
            log.exception("could not announce recovered job_id=%s", self.job_id)
            # Follow the job anyway: its outcome goes to the channel, by editing the old status
            # message if there is one, else as a new message.
            self.status.use_channel()
            self._attached.set()
            return
        self._attached.set()
        await self._remember_message()

    async def _announce_outcome_after_restart(self, event: JobFinished | JobFailed | JobCancelled) -> None:
        self.status.use_channel()
        self._attached.set()
        if isinstance(event, JobFinished):
            delivery = await self._deliver_video(event)  # with the channel route, the video is reposted
        else:
            delivery = await self._repost_ended(event)
        await self._settle(delivery)

    async def _repost_ended(self, event: JobFailed | JobCancelled) -> Delivery:
        """Post a failure or cancellation anew and retire the old message."""
        try:
            await self.status.repost(
                content=f"<@{self.status.context.user_id}>",
                embed=self._ended_embed(event),
                view=self._ended_view(event),
                what="outcome after restart",
                retry_delays=RETRY_DELAYS_S,
            )
        except DISCORD_FAILURES as error:
            self._count_failure(error)
            log.exception("could not report the outcome of job_id=%s after a restart", self.job_id)
            return Delivery.OWED if transient(error) else Delivery.REFUSED
        return Delivery.SHOWN

    async def _settle(self, delivery: Delivery) -> None:
        """Tell the queue the outcome was delivered, unless it is still owed."""
        if delivery is Delivery.OWED:
            return
        try:
            await self._acknowledge()
        except Exception:
            # Only a restart cares: it would post this outcome once more.
            log.exception("could not acknowledge the outcome of job_id=%s", self.job_id)

    async def follow(self, events: AsyncIterator[JobEvent]) -> None:
        """Consume the job's events until its terminal one, then show the outcome."""
        editor = asyncio.create_task(self._edit_loop(), name=f"status-edits-{self.job_id}")
        terminal: JobEvent | None = None
        try:
            async for event in events:
                if isinstance(event, JobFinished | JobFailed | JobCancelled):
                    terminal = event
                    break
                self._note(event)
                self._show(event)
        finally:
            editor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await editor
        if terminal is not None:
            # An edit already on its way is let finish (its answer, or Discord's rate limiter holding it
            # back, is part of the request): cancelling it would send the outcome into a spent bucket.
            if self._edit_in_flight is not None:
                await asyncio.gather(self._edit_in_flight, return_exceptions=True)
            await self._attached.wait()
            await self._settle(await self._finish(terminal))

    def _note(self, event: JobQueued | JobStarted | JobProgress) -> None:
        """Keep what the status says beside the event: a model loading. (The worker a waiting job waits
        for is looked up when its place is shown, not at every place it passes.)"""
        if isinstance(event, JobStarted):
            self._waiting_for, self._loading = None, event.loading
        elif isinstance(event, JobProgress):
            self._loading = None

    async def _unserved_model(self) -> str | None:
        """The job's model when no live worker serves it now (asked on queued events only; the answer is cached)."""
        model = self.request.model
        if model is None:
            return None
        try:
            served = await self._served()
        except Exception as error:
            log.warning("could not look up the served models for job_id=%s: %s", self.job_id, error)
            return self._waiting_for
        return None if any(each.name == model and each.workers for each in served) else model

    async def _extendable(self) -> bool:
        """Whether a served model animates pictures, so that the finished video may be extended."""
        try:
            served = await self._served()
        except Exception:
            # A button is not worth a delivery: without the served models, the video goes out without Extend.
            log.warning(
                "could not read the served models; delivering job_id=%s without Extend", self.job_id, exc_info=True
            )
            return False
        return any(model.profile.image_to_video for model in served)

    def _render(self, event: JobQueued | JobStarted | JobProgress) -> discord.Embed:
        user_id, adjustments = self.status.context.user_id, self.status.context.adjustments
        if isinstance(event, JobQueued):
            ready = render.ready_at(self._clock.time(), event.eta_s)
            return render.queued_embed(
                self.request,
                user_id,
                event.position,
                ready,
                recovered=event.recovered,
                adjustments=adjustments,
                waiting_for=self._waiting_for,
                speaker=self._member,
            )
        if isinstance(event, JobStarted):
            ready = render.ready_at(self._clock.time(), event.eta_s)
            return render.running_embed(
                self.request,
                user_id,
                0,
                self.request.steps,
                0.0,
                ready,
                adjustments=adjustments,
                loading=self._loading,
                speaker=self._member,
            )
        return render.running_embed(
            self.request,
            user_id,
            event.step,
            event.total,
            event.elapsed_s,
            adjustments=adjustments,
            speaker=self._member,
        )

    def _show(self, event: JobQueued | JobStarted | JobProgress) -> None:
        """Make `event` the one to show next (it replaces any not shown yet)."""
        self._pending = event
        self._wake.set()

    async def _edit_loop(self) -> None:
        await self._attached.wait()
        while True:
            await self._wake.wait()
            await self._until_due()
            self._wake.clear()
            event, self._pending = self._pending, None
            if event is None or self.status.message_id is None:
                continue
            if isinstance(event, JobQueued):
                self._waiting_for = await self._unserved_model()
                if _same_place(event, self._shown) and self._waiting_for == self._shown_waiting_for:
                    continue  # the place on screen is the newest
            await self._limiter.acquire()
            self._last_edit = self._clock.monotonic()
            self._shown, self._shown_waiting_for = event, self._waiting_for
            self._edit_in_flight = asyncio.ensure_future(self._edit(event))
            await asyncio.shield(self._edit_in_flight)

    async def _until_due(self) -> None:
        """Wait until the pending event may be shown: its interval since the last edit has passed.

        A place waits out its longer interval in steps of the status interval, so that a start or a
        step arriving meanwhile (which replaces it) goes out no later than its own interval allows.
        """
        while self._pending is not None:
            place = isinstance(self._pending, JobQueued)
            delay = self._last_edit + (self._position_interval if place else self._interval) - self._clock.monotonic()
            if delay <= 0:
                return
            await self._clock.sleep(min(delay, self._interval))

    async def _edit(self, event: JobQueued | JobStarted | JobProgress) -> None:
        try:
            await self.status.edit(embed=self._render(event), view=self._status_view)
        except DISCORD_FAILURES as error:
            # Live status is best effort; the terminal state is retried separately.
            self._count_failure(error)
            log.warning("status edit failed job_id=%s error=%s", self.job_id, describe(error))

    async def _finish(self, event: JobEvent) -> Delivery:
        """Show the outcome, by editing the status message or, failing that, in the channel."""
        if isinstance(event, JobFinished):
            return await self._deliver_video(event)
        try:
            await self._show_ended(self._ended_embed(event), self._ended_view(event))
        except Exception as error:
            return await self._fall_back(event, error)
        return Delivery.SHOWN

    async def _deliver_video(self, event: JobFinished) -> Delivery:
        """The return trip of a finished job: its embed, then its MP4 where the user will see it.

        The status message picks the route and fits the video to it; a video that cannot be made to
        fit is shown as a failure, and any other failure to show it falls back to a channel notice.
        """
        context = self.status.context
        # From the user's request, which survives a restart (the tracker's own start does not).
        elapsed = self._clock.time() - context.interaction_created_at
        public = self._public
        embed = render.finished_embed(
            event.result, context.user_id, elapsed, adjustments=context.adjustments, speaker=public
        )
        view = result_view(self.job_id, extend=await self._extendable(), speaker=public)
        try:
            async with VideoUpload(event.result) as upload:
                change = await self.status.show(
                    content=public.say("{member} your video is ready.", member=f"<@{context.user_id}>"),
                    embed=embed,
                    view=view,
                    upload=upload,
                    channel_upload_limit=self._channel_upload_limit(),
                    retry_delays=RETRY_DELAYS_S,
                )
        except DoesNotFitError as too_big:
            try:
                # The engine's reason (generation/), in English.
                await self._show_ended(render.failed_embed(self.request, context.user_id, str(too_big), self._member))
            except Exception as error:
                return await self._fall_back(event, error)
            return Delivery.SHOWN
        except Exception as error:
            return await self._fall_back(event, error)
        log.info(
            "delivered job_id=%s user_id=%s elapsed_s=%.1f",
            self.job_id,
            context.user_id,
            elapsed,
            extra={
                "job_id": self.job_id,
                "user_id": context.user_id,
                "guild_id": context.guild_id,
                "elapsed_s": round(elapsed, 2),
                "denoise_s": round(event.result.timings.denoise_s, 2),
                "encode_s": round(event.result.timings.encode_s, 2),
                "shown": change.name.lower(),
            },
        )
        return Delivery.SHOWN

    async def _show_ended(self, embed: discord.Embed, view: discord.ui.View | None = None) -> None:
        await self.status.show(
            content=f"<@{self.status.context.user_id}>", embed=embed, view=view, retry_delays=RETRY_DELAYS_S
        )

    async def _fall_back(self, event: JobEvent, error: Exception) -> Delivery:
        """After a failure to show the outcome: a channel notice, and whether the outcome is still owed."""
        self._count_failure(error)
        log.error("could not tell the user about job_id=%s; trying a channel message", self.job_id, exc_info=error)
        unposted = await self._last_resort(event)
        if unposted is not None and transient(unposted):
            return Delivery.OWED
        if isinstance(event, JobFinished) and transient(error):
            # The notice only says the upload failed: while that may pass, the video stays owed.
            return Delivery.OWED
        if unposted is not None or isinstance(event, JobFinished):
            return Delivery.REFUSED  # the notice, or the video itself, was refused for good
        return Delivery.SHOWN  # the cancellation or failure was shown in the channel

    def _ended_embed(self, event: JobEvent) -> discord.Embed:
        """A failure or cancellation as shown to the user; any other event here is a failed upload."""
        user_id, speaker = self.status.context.user_id, self._member
        if isinstance(event, JobCancelled):
            return render.cancelled_embed(self.request, user_id, event.by, speaker)
        # A job's failure reason is the engine's (generation/), in English: said in the member's language
        # where the bot knows it.
        reason = (
            speaker.say(engine_reason(event.reason))
            if isinstance(event, JobFailed)
            else speaker.say("the result could not be uploaded to Discord")
        )
        return render.failed_embed(self.request, user_id, reason, speaker)

    def _ended_view(self, event: JobEvent) -> discord.ui.View | None:
        """A failure offers Re-roll (nothing was made, so trying again is what its user wants)."""
        return failed_view(self.job_id, self._member) if isinstance(event, JobFailed) else None

    async def _last_resort(self, event: JobEvent) -> Exception | None:
        """Post the outcome (a video's as a failed upload) in the channel; the error if that failed too."""
        embed = self._ended_embed(event)
        try:
            await self.status.post_in_channel(content=f"<@{self.status.context.user_id}>", embed=embed, view=None)
        except DISCORD_FAILURES as error:
            log.exception("job_id=%s ended but the user could not be told", self.job_id)
            return error
        return None

    def _count_failure(self, error: BaseException) -> None:
        """Count an error Discord answered with, for /metrics (a dropped connection has no answer)."""
        if isinstance(error, discord.HTTPException):
            self._on_discord_error(error)

    def _channel_upload_limit(self) -> int:
        guild_id = self.status.context.guild_id
        guild = self._client.get_guild(guild_id) if guild_id is not None else None
        return guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT


def _same_place(event: JobEvent, shown: JobEvent | None) -> bool:
    """True when `event` only repeats the place in line the message shows already."""
    return (
        isinstance(event, JobQueued)
        and isinstance(shown, JobQueued)
        and (event.position, event.recovered) == (shown.position, shown.recovered)
    )
