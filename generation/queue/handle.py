"""`QueueHandle`: what `JobQueue.submit` returns, for any backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

from generation.queue.interface import Actor, JobEvent, JobInfo, JobQueue


class QueueHandle:
    """What `submit` returns: the first snapshot, the job's event stream and a shortcut to cancel."""

    def __init__(self, queue: JobQueue, info: JobInfo) -> None:
        self._queue = queue
        self._info = info

    @property
    def info(self) -> JobInfo:
        """The snapshot taken at submission."""
        return self._info

    def events(self) -> AsyncIterator[JobEvent]:
        """This job's events from submission on, ending after its terminal event."""
        return self._queue.watch(self._info.job_id)

    async def cancel(self, by: Actor) -> JobInfo:
        """Cancel this job (see `JobQueue.cancel`)."""
        return await self._queue.cancel(self._info.job_id, by)
