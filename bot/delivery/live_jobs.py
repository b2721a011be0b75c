"""The Discord side of every live job: one task per job, from its acknowledgement to its outcome.

New jobs (just acknowledged) and recovered ones (found by the queue at start-up) take the same path:
a `JobTracker` reads `JobQueue.watch(job_id)`, keeps the status message current and shows the
outcome. Shutdown gives these tasks a bounded grace to finish their deliveries, then stops them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import discord

from bot.delivery.job_context import JobContext
from bot.delivery.status_message import EditLimiter, StatusMessage
from bot.delivery.tracker import JobTracker
from generation.clock import Clock, within
from generation.queue.interface import JobInfo, JobQueue, JobQueued, ServedModel
from generation.request import VideoRequest

log = logging.getLogger(__name__)


class LiveJobs:
    """Starts, registers and stops the per-job tracker tasks; see the module docstring.

    `served` answers which models live workers serve now (cheaply: it is asked on every queued event).
    """

    def __init__(
        self,
        client: discord.Client,
        queue: JobQueue,
        clock: Clock,
        *,
        edit_interval_s: float,
        position_interval_s: float,
        edits_per_second: float,
        on_discord_error: Callable[[discord.HTTPException], None],
        served: Callable[[], Awaitable[tuple[ServedModel, ...]]],
    ) -> None:
        self._client = client
        self._served = served
        self._queue = queue
        self._clock = clock
        self._edit_interval_s = edit_interval_s
        self._position_interval_s = position_interval_s
        self._limiter = EditLimiter(per_second=edits_per_second, burst=10, clock=clock)
        self._on_discord_error = on_discord_error
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def follow_new(
        self,
        job_id: str,
        request: VideoRequest,
        context: JobContext,
        message_id: int | None,
        showing: JobQueued,
        *,
        waiting_for: str | None = None,
    ) -> None:
        """Follow a job just acknowledged in `message_id` (None: the message exists but its id is unknown,
        so the outcome goes to the channel), which shows `showing` (and `waiting_for`, see `JobTracker.attach`)."""
        tracker = self._tracker(job_id, request, context)

        async def follow() -> None:
            if message_id is None:
                tracker.attach_unknown()
            else:
                await tracker.attach(message_id, showing=showing, waiting_for=waiting_for)
            await tracker.follow(self._queue.watch(job_id))

        self._start(job_id, follow())

    def follow_recovered(self, info: JobInfo) -> None:
        """Follow a job the queue found at start-up: tell its user in the channel it is back in line, or
        show the outcome a previous run never did."""
        try:
            context = JobContext.loads(info.spec.context)
        except (ValueError, TypeError):
            log.error("job_id=%s has no usable Discord context; its result cannot be delivered", info.job_id)
            self._start(info.job_id, self._queue.acknowledge(info.job_id))
            return
        tracker = self._tracker(info.job_id, info.spec.request, context)
        events = self._queue.watch(info.job_id)
        if info.status.terminal:
            self._start(info.job_id, tracker.follow_outcome_after_restart(events))
        else:
            self._start(info.job_id, tracker.follow_after_restart(info, events))

    async def wait_until_settled(self) -> None:
        """Until every job followed now has been shown its outcome (or stopped waiting for one)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))

    async def close(self, grace_s: float) -> None:
        """Give the deliveries in progress up to `grace_s` on the clock, then stop every tracker."""
        await within(self._clock, self.wait_until_settled(), grace_s)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _tracker(self, job_id: str, request: VideoRequest, context: JobContext) -> JobTracker:
        return JobTracker(
            self._client,
            job_id,
            request,
            StatusMessage(self._client, context, self._clock),
            clock=self._clock,
            limiter=self._limiter,
            edit_interval_s=self._edit_interval_s,
            position_interval_s=self._position_interval_s,
            on_discord_error=self._on_discord_error,
            save_context=lambda context: self._queue.update_context(job_id, context.dumps()),
            acknowledge=lambda: self._queue.acknowledge(job_id),
            served=self._served,
        )

    def _start(self, job_id: str, work: Coroutine[Any, Any, None]) -> None:
        async def followed() -> None:
            try:
                await work
            except Exception:
                log.exception("following job_id=%s failed", job_id)
            finally:
                self._tasks.pop(job_id, None)

        self._tasks[job_id] = asyncio.create_task(followed(), name=f"job-{job_id}")
