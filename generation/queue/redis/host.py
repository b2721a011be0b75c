"""`WorkerHost`: one GPU worker serving the queue in Redis — the `JobRunner` loop, its GPU thread and source.

What `LocalJobQueue` does for its own worker, without the queue: start the loop, report its health,
and on `close` stop taking work, give the running call `shutdown_grace_s`, then interrupt it and hand
its jobs back to the queue (no crash counted) for another worker to run.
"""

from __future__ import annotations

import asyncio
import logging

from generation.clock import Clock
from generation.config import EngineSettings
from generation.protocol import VideoGenerator
from generation.queue.gpu import Encoder, GpuThread, mp4_encoder
from generation.queue.interface import WorkerHealth
from generation.queue.redis.source import RedisJobSource
from generation.queue.runner import JobRunner
from generation.queue.settings import QueueSettings

log = logging.getLogger(__name__)


class WorkerHost:
    """Runs `generator` on jobs from `source` until closed; see the module docstring."""

    def __init__(
        self,
        source: RedisJobSource,
        generator: VideoGenerator,
        settings: QueueSettings,
        engine: EngineSettings,
        clock: Clock,
        *,
        encoder: Encoder | None = None,
    ) -> None:
        self._source = source
        self._generator = generator
        self._settings = settings
        self._clock = clock
        self._gpu = GpuThread(generator, encoder or mp4_encoder(engine), clock)
        self._worker = JobRunner(
            source,
            self._gpu,
            clock,
            batch_size=max(1, min(engine.max_batch_size, generator.max_batch_size)),
            timeout_s=settings.job_timeout_s,
            output_dir=engine.output_dir,
        )
        self._task: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    @property
    def model_state(self) -> str:
        """ "loading" until the model is loaded, then "ready"; "failed" when it could not be loaded."""
        if self._gpu.load_failed:
            return "failed"
        return "ready" if self._gpu.loaded else "loading"

    async def start(self) -> None:
        """Register with the queue and start taking jobs."""
        await self._source.start()
        self._task = asyncio.create_task(self._worker.serve(), name="redis-worker")
        log.info("worker started name=%s", self._source.name)

    async def wait(self) -> None:
        """Until the worker loop ends (after `close`, or if it ever stopped on its own)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def health(self) -> WorkerHealth:
        """The loop runs, and the model is loaded or still loading."""
        task = self._task
        return WorkerHealth(worker_alive=task is not None and not task.done(), model_ready=not self._gpu.load_failed)

    async def close(self) -> None:
        """Stop taking jobs, let the running call finish within the grace period, hand back the rest."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._shut_down(), name="redis-worker-close")
        await asyncio.shield(self._closing)

    async def _shut_down(self) -> None:
        self._source.stop()
        if self._task is not None:
            await self._worker.wind_down(self._task, self._settings.shutdown_grace_s)
        self._gpu.shutdown()
        await self._source.close()
        log.info("worker stopped name=%s", self._source.name)
