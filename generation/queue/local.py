"""`LocalJobQueue`: the in-process `JobQueue` — fair line, SQLite store and one GPU worker task.

The event loop owns all state (`QueueCore`); the one worker task (`JobRunner`) takes batches from it
through the `JobSource` seam and runs the blocking work on one dedicated thread (`GpuThread`), so the
event loop never blocks. Every state change is committed to SQLite (`JobStore`) before it is announced.

Shutdown: `close()` refuses new jobs, gives the running call `shutdown_grace_s`, then interrupts it and
saves its jobs as queued, so they run again on the next `start()` without counting as a crash.

Several models (`MODELS`): the GPU holds one at a time and the generator swaps when a batch needs
another (`generation.model_shelf`); the line keeps same-model runs together within the bound that
`scheduler` states. A request naming no model runs on the first, the default, and is recorded so.

Every timestamp, duration and wait (the watchdog, the shutdown grace, the retention sweeps) is on the
`Clock` handed in, so tests decide when time passes instead of racing the machine.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import replace

from generation.clock import SYSTEM_CLOCK, Clock
from generation.config import EngineSettings
from generation.errors import InvalidRequestError, JobNotFoundError, QueueClosedError, QueuePausedError
from generation.protocol import VideoGenerator
from generation.queue.allowance import DAY_S, Allowance, QuotaUsage
from generation.queue.core import QueueCore
from generation.queue.eta import EtaEstimator
from generation.queue.events import DEFAULT_EVENT_BUFFER, EventHub
from generation.queue.gpu import Encoder, GpuThread, mp4_encoder
from generation.queue.handle import QueueHandle
from generation.queue.interface import (
    Actor,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobHandle,
    JobInfo,
    JobSpec,
    JobStatus,
    QueueStats,
    ServedModel,
    WorkerHealth,
    WorkerStatus,
)
from generation.queue.jobfiles import new_job_id
from generation.queue.outcome import terminal_event
from generation.queue.retention import VideoSweeper
from generation.queue.runner import JobRunner
from generation.queue.scheduler import FairScheduler
from generation.queue.settings import QueueSettings
from generation.queue.store import JobStore, StoredJob

log = logging.getLogger(__name__)


class LocalJobQueue:
    """A fair, bounded, durable queue in front of one GPU worker, all in this process.

    `encoder` writes a clip to an MP4 (default: `generation.encode.encode_mp4` at `engine.output_scale`);
    `clock` is the time the queue stamps, measures and waits on; `event_buffer` bounds each subscriber.
    Batches hold up to `min(engine.max_batch_size, generator.max_batch_size)` jobs. The models served are
    `engine.served_models`, which `generator` must be able to run by name. Call `start()` first.
    """

    def __init__(
        self,
        settings: QueueSettings,
        engine: EngineSettings,
        generator: VideoGenerator,
        *,
        encoder: Encoder | None = None,
        clock: Clock = SYSTEM_CLOCK,
        event_buffer: int = DEFAULT_EVENT_BUFFER,
    ) -> None:
        self._settings = settings
        self._device = engine.device
        self._generator = generator
        self._clock = clock
        self._store = JobStore(settings.database_path)
        self._eta = EtaEstimator(settings.eta_window)
        self._models = tuple(ServedModel(entry.name, entry.profile, workers=1) for entry in engine.served_models)
        batch_size = max(1, min(engine.max_batch_size, generator.max_batch_size))
        scheduler = FairScheduler(settings.queue_max_jobs, settings.queue_max_per_user, batch_size=batch_size)
        scheduler.hold(self._models[0].name)  # the worker loads the default model first
        self._core = QueueCore(scheduler, self._store, self._eta, EventHub(event_buffer), clock)
        self._gpu = GpuThread(generator, encoder or mp4_encoder(engine), clock)
        self._worker = JobRunner(
            self._core,
            self._gpu,
            clock,
            batch_size=batch_size,
            timeout_s=settings.job_timeout_s,
            output_dir=engine.output_dir,
        )
        self._sweeper = VideoSweeper(self._store, settings.video_retention_h, clock, folder=engine.output_dir)
        self._worker_task: asyncio.Task[None] | None = None
        self._sweep_task: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    async def start(self) -> list[JobInfo]:
        """Open the database, re-queue what a previous run left and start the worker.

        Returns the jobs found, in submission order, to `watch`: re-queued ones (announced as
        `JobQueued(recovered=True)`), ones failed for having crashed the worker `job_max_attempts`
        times (announced as `JobFailed`), and ones that ended earlier but were never acknowledged.
        A re-queued job that has crashed the worker before runs in a batch of its own.
        """
        if self._worker_task is not None or self._closing is not None:
            raise RuntimeError("LocalJobQueue.start() may be called once, before close()")
        store = self._store
        await store.open()
        if self._sweeper.enabled:
            await self._sweeper.sweep()
        _learn_history(self._eta, await store.recent_successes(self._settings.eta_window), self._models[0].name)
        self._core.restore_quotas(await store.quota_counted(since=self._clock.time() - DAY_S))
        leftovers = await store.requeue_interrupted()
        crashed = await self._core.recover(leftovers, self._settings.job_max_attempts)
        ended = [job.info for job in await store.unacknowledged()]  # `crashed` among them
        self._worker_task = asyncio.create_task(self._worker.serve(), name="job-queue-worker")
        if self._sweeper.enabled:
            self._sweep_task = asyncio.create_task(self._sweeper.run(), name="job-queue-video-sweeper")
        line = self._core.line()
        log.info(
            "queue started recovered=%d failed_after_crashes=%d unacknowledged=%d",
            len(line),
            len(crashed),
            len(ended) - len(crashed),
        )
        found = [*ended, *(self._core.snapshot(job_id, line) for job_id in line)]
        return sorted(found, key=lambda info: info.submitted_at)

    async def close(self) -> None:
        """Refuse new jobs, give the running call `shutdown_grace_s`, save the rest; idempotent."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._shut_down(), name="job-queue-close")
        await asyncio.shield(self._closing)

    async def submit(self, spec: JobSpec) -> JobHandle:
        """Queue a job; see `JobQueue.submit` for what it refuses. A request naming no model is recorded
        as one for the default model; one naming a model not served here, or a frame count its model's
        rule does not allow, raises `InvalidRequestError`."""
        if self._closing is not None or self._worker_task is None:
            raise QueueClosedError("the video queue is not running right now; try again in a minute")
        if self._core.paused:
            raise QueuePausedError("video generation is paused by an admin; try again later")
        info = await self._core.admit(new_job_id(), self._on_served_model(spec))
        return QueueHandle(self, info)

    async def quota_usage(self, allowance: Allowance) -> QuotaUsage:
        """Where `allowance`'s daily quota stands now; see `JobQueue.quota_usage`."""
        return self._core.quota_usage(allowance)

    async def models(self) -> tuple[ServedModel, ...]:
        """The models served now, in the deployment's order (`MODELS`); the first is the default."""
        return self._models

    def _on_served_model(self, spec: JobSpec) -> JobSpec:
        """`spec` naming the model that will run it, checked against that model."""
        request = spec.request
        name = request.model or self._models[0].name
        served = next((model for model in self._models if model.name == name), None)
        if served is None:
            raise InvalidRequestError("model", name, f"one of: {', '.join(model.name for model in self._models)}")
        frames = served.profile.frames
        if not frames.allows_shape(request.num_frames):
            raise InvalidRequestError("num_frames", request.num_frames, f"{frames.describe()} on {name}")
        return spec if request.model == name else replace(spec, request=replace(request, model=name))

    def watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        """The job's events; see `JobQueue.watch`."""
        live = self._core.watch(job_id)
        return live if live is not None else self._stored_outcome(job_id)

    async def cancel(self, job_id: str, by: Actor) -> JobInfo:
        """Cancel a waiting job now or a running one at its next step; an ended job is left as it is.

        Raises `QueueClosedError` once `close()` has begun: the cancellation could no longer be saved.
        """
        self._refuse_if_closing()
        info = await self._core.cancel(job_id, by)
        return info if info is not None else await self.get(job_id)

    async def get(self, job_id: str) -> JobInfo:
        """The job's snapshot, from memory while it is live, from the database after."""
        if self._core.known(job_id):
            return self._core.snapshot(job_id)
        stored = await self._store.get(job_id)
        if stored is None:
            raise JobNotFoundError(f"there is no job with id {job_id!r}")
        return stored.info

    async def active(self) -> list[JobInfo]:
        """Running jobs first, then waiting ones in the order they will run."""
        return self._core.active()

    def subscribe(self) -> AsyncIterator[JobEvent]:
        """Every event from now on; a subscriber that lags too far is disconnected (see `events`)."""
        return self._core.subscribe()

    async def pause(self) -> None:
        """Stop starting jobs and refuse submissions; the running call finishes."""
        self._core.pause()
        log.info("queue paused")

    async def resume(self) -> None:
        """Start jobs and accept submissions again."""
        self._core.resume()
        log.info("queue resumed")

    async def clear(self, by: Actor) -> list[JobInfo]:
        """Cancel every waiting job (the running call goes on); return them in the order they were.

        Raises `QueueClosedError` once `close()` has begun, like `cancel`.
        """
        self._refuse_if_closing()
        return await self._core.clear(by)

    async def acknowledge(self, job_id: str) -> None:
        """Record that the job's outcome reached its user. Raises `JobNotFoundError`."""
        if not await self._store.acknowledge(job_id, self._clock.time()):
            raise JobNotFoundError(f"there is no job with id {job_id!r}")

    async def outcome(self, job_id: str) -> JobFinished | JobFailed | JobCancelled:
        """The ended job's terminal event, rebuilt from storage; see `JobQueue.outcome`."""
        return await asyncio.to_thread(terminal_event, await self.get(job_id))

    async def update_context(self, job_id: str, context: str) -> None:
        """Replace the job's `JobSpec.context` and persist it. Raises `JobNotFoundError`."""
        self._core.update_context(job_id, context)
        if not await self._store.update_context(job_id, context):
            raise JobNotFoundError(f"there is no job with id {job_id!r}")

    def health(self) -> WorkerHealth:
        """The worker task runs (idle counts), and the model is loaded or still loading (not failed)."""
        task = self._worker_task
        return WorkerHealth(worker_alive=task is not None and not task.done(), model_ready=not self._gpu.load_failed)

    async def history(self, owner_id: str | None = None, limit: int = 10) -> list[JobInfo]:
        """Ended jobs, newest first, optionally only one owner's."""
        return [job.info for job in await self._store.history(owner_id, limit)]

    async def stats(self) -> QueueStats:
        """Outcome counts since the database was created, plus the live line, GPU memory and the one worker."""
        counts, mean_job_s = await self._store.outcomes()
        waiting = self._core.waiting_by_model()
        return QueueStats(
            waiting=self._core.waiting_count,
            running=self._core.running_count,
            succeeded=counts[JobStatus.SUCCEEDED],
            failed=counts[JobStatus.FAILED],
            cancelled=counts[JobStatus.CANCELLED],
            mean_job_s=mean_job_s,
            paused=self._core.paused,
            gpu_memory_bytes=self._generator.memory_in_use(),
            workers=(self._worker_status(counts[JobStatus.SUCCEEDED]),),
            waiting_by_model=tuple((model.name, waiting[model.name]) for model in self._models),
        )

    def _worker_status(self, jobs_done: int) -> WorkerStatus:
        """The one worker, as a worker of the Redis backend is listed (it "heartbeats" while its task runs)."""
        health = self.health()
        return WorkerStatus(
            name="local",
            host=socket.gethostname(),
            gpu=self._device,
            current_jobs=tuple(info.job_id for info in self._core.active() if info.position == 0),
            jobs_done=jobs_done,
            last_heartbeat=self._clock.time(),
            alive=health.worker_alive,
            model_ready=health.model_ready,
            memory_bytes=self._generator.memory_in_use(),
        )

    async def _stored_outcome(self, job_id: str) -> AsyncIterator[JobEvent]:
        """A job that ended before this process: its terminal event, rebuilt from storage."""
        yield await self.outcome(job_id)

    def _refuse_if_closing(self) -> None:
        # Past this point the store may be closed, and a change the user is told about would be lost.
        if self._closing is not None:
            raise QueueClosedError("the video queue is restarting; try again in a minute")

    async def _shut_down(self) -> None:
        if self._sweep_task is not None:
            self._sweep_task.cancel()
            await asyncio.gather(self._sweep_task, return_exceptions=True)
        self._core.stop()
        if self._worker_task is not None:
            await self._worker.wind_down(self._worker_task, self._settings.shutdown_grace_s)
        self._gpu.shutdown()
        await self._store.close()
        self._core.close()
        log.info("queue closed waiting=%d", self._core.waiting_count)


def _learn_history(eta: EtaEstimator, successes: list[StoredJob], default_model: str) -> None:
    """Teach `eta` the calls behind `successes` (newest first, as the store gives them), one sample each,
    and the loads they began with; a job from before models had names ran on the default model."""
    calls: set[tuple[float | None, float | None]] = set()
    # Oldest first, as they ran: the runs to come then push out the oldest history first.
    for success in reversed(successes):
        info, timings = success.info, success.info.timings
        call = (info.started_at, info.finished_at)  # shared by the members of one call, and only by them
        if timings is None or call in calls:
            continue
        calls.add(call)
        model = info.spec.request.model or default_model
        request, batch_size = replace(info.spec.request, model=model), success.batch_size or 1
        if timings.load_s > 0:
            eta.record_load(model, timings.load_s)
        # Members share the call's denoise and decode times; each clip is encoded on its own.
        after_s = timings.decode_s + timings.encode_s * batch_size
        eta.record(request.shape, request.cost * batch_size, timings.denoise_s + after_s, after_s=after_s)
