"""`LocalJobQueue`: the in-process `JobQueue` — fair line, SQLite store and one GPU worker task.

The event loop owns all state (`Ledger`); the one worker task (`Worker`) takes batches from the fair
line (`FairScheduler`) and runs the blocking work on one dedicated thread (`GpuThread`), so the event
loop never blocks. Every state change is committed to SQLite (`JobStore`) before it is announced.

Shutdown: `close()` refuses new jobs, gives the running call `shutdown_grace_s`, then interrupts it and
saves its jobs as queued, so they run again on the next `start()` without counting as a crash.

Every timestamp, duration and wait (the watchdog, the shutdown grace, the retention sweeps) is on the
`Clock` handed in, so tests decide when time passes instead of racing the machine.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Final

from generation.clock import SYSTEM_CLOCK, Clock, within
from generation.config import EngineSettings
from generation.errors import JobNotFoundError, QueueClosedError, QueuePausedError
from generation.protocol import VideoGenerator
from generation.queue.eta import EtaEstimator
from generation.queue.events import EventHub, JobEventLog
from generation.queue.gpu import Encoder, GpuThread, mp4_encoder
from generation.queue.interface import (
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobHandle,
    JobInfo,
    JobSpec,
    JobStatus,
    QueueStats,
    WorkerHealth,
)
from generation.queue.ledger import Ledger
from generation.queue.outcome import terminal_event
from generation.queue.retention import VideoSweeper
from generation.queue.run import finished
from generation.queue.scheduler import FairScheduler, Ticket
from generation.queue.settings import QueueSettings
from generation.queue.store import JobStore, StoredJob
from generation.queue.worker import Worker

log = logging.getLogger(__name__)

DEFAULT_EVENT_BUFFER: Final = 10_000
"""Events a `subscribe()` stream may fall behind before it is disconnected (see `events`)."""

_STOP_WAIT_S: Final = 30.0
"""How long shutdown waits for an interrupted call to reach its next step before abandoning the thread."""


class LocalJobQueue:
    """A fair, bounded, durable queue in front of one GPU worker, all in this process.

    `encoder` writes a clip to an MP4 (default: `generation.encode.encode_mp4` at `engine.output_scale`);
    `clock` is the time the queue stamps, measures and waits on; `event_buffer` bounds each subscriber.
    Batches hold up to `min(engine.max_batch_size, generator.max_batch_size)` jobs. Call `start()` first.
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
        self._generator = generator
        scheduler = FairScheduler(settings.queue_max_jobs, settings.queue_max_per_user)
        store = JobStore(settings.database_path)
        eta = EtaEstimator(settings.eta_window)
        self._ledger = Ledger(scheduler, store, eta, EventHub(event_buffer), clock)
        self._gpu = GpuThread(generator, encoder or mp4_encoder(engine), clock)
        self._worker = Worker(
            self._ledger,
            self._gpu,
            batch_size=max(1, min(engine.max_batch_size, generator.max_batch_size)),
            timeout_s=settings.job_timeout_s,
            output_dir=engine.output_dir,
        )
        self._sweeper = VideoSweeper(store, settings.video_retention_h, clock)
        self._worker_task: asyncio.Task[None] | None = None
        self._sweep_task: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    async def start(self) -> list[JobInfo]:
        """Open the database, re-queue what a previous run left and start the worker.

        Returns the jobs found, in submission order: re-queued ones (announced as
        `JobQueued(recovered=True)`), ones failed for having crashed the worker `job_max_attempts`
        times (announced as `JobFailed`), and ones that ended earlier but were never acknowledged
        (not announced: `outcome` rebuilds their terminal event). A re-queued job that has crashed the
        worker before runs in a batch of its own. Subscribe before calling this to hear the events.
        """
        if self._worker_task is not None or self._closing is not None:
            raise RuntimeError("LocalJobQueue.start() may be called once, before close()")
        ledger, store, max_crashes = self._ledger, self._ledger.store, self._settings.job_max_attempts
        await store.open()
        if self._sweeper.enabled:
            await self._sweeper.sweep()
        _learn_history(ledger.eta, await store.recent_successes(self._settings.eta_window))
        leftovers = await store.requeue_interrupted()
        now = ledger.clock.time()
        crashed = [
            finished(job.info, now, JobStatus.FAILED, error=_crash_reason(job.crashes))
            for job in leftovers
            if job.crashes >= max_crashes
        ]
        await ledger.settle([(info, JobFailed(info.job_id, info.error or "")) for info in crashed])
        ended = [job.info for job in await store.unacknowledged()]  # `crashed` among them
        for job in leftovers:
            if job.crashes < max_crashes:
                ledger.jobs[job.info.job_id] = job.info
                # A crash is counted on every job of the batch it hit: only a job running alone owns its next one.
                ticket = _ticket(job.info.job_id, job.info.spec, alone=job.crashes > 0)
                ledger.scheduler.push(ticket, enforce_caps=False)
        ledger.reposition(recovered=True)
        self._worker_task = asyncio.create_task(self._worker.serve(), name="job-queue-worker")
        if self._sweeper.enabled:
            self._sweep_task = asyncio.create_task(self._sweeper.run(), name="job-queue-video-sweeper")
        line = ledger.line()
        log.info(
            "queue started recovered=%d failed_after_crashes=%d unacknowledged=%d",
            len(line),
            len(crashed),
            len(ended) - len(crashed),
        )
        found = [*ended, *(ledger.snapshot(job_id, line) for job_id in line)]
        return sorted(found, key=lambda info: info.submitted_at)

    async def close(self) -> None:
        """Refuse new jobs, give the running call `shutdown_grace_s`, save the rest; idempotent."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._shut_down(), name="job-queue-close")
        await asyncio.shield(self._closing)

    async def submit(self, spec: JobSpec) -> JobHandle:
        """Queue a job; see `JobQueue.submit` for what it refuses."""
        if self._closing is not None or self._worker_task is None:
            raise QueueClosedError("the video queue is not running right now; try again in a minute")
        if self._worker.paused:
            raise QueuePausedError("video generation is paused by an admin; try again later")
        ledger = self._ledger
        job_id = uuid.uuid4().hex[:12]
        ledger.scheduler.push(_ticket(job_id, spec))
        info = JobInfo(
            job_id=job_id,
            spec=spec,
            status=JobStatus.QUEUED,
            position=None,
            eta_s=None,
            submitted_at=ledger.clock.time(),
        )
        ledger.jobs[job_id] = info
        events = ledger.logs[job_id] = JobEventLog()
        ledger.reposition()
        log.info(
            "job queued id=%s owner=%s group=%s position=%s",
            job_id, spec.owner_id, spec.group_id, ledger.position(job_id),
        )  # fmt: skip
        self._worker.wake()
        try:
            await ledger.store.save([info])
        except Exception:
            log.exception("could not save job id=%s", job_id)
            if ledger.scheduler.is_waiting(job_id):
                ledger.scheduler.remove(job_id)
                ledger.conclude(info, JobFailed(job_id, "the job could not be saved"))
            raise
        snapshot = ledger.snapshot(job_id) if job_id in ledger.jobs else info
        return _Handle(self, snapshot, events)

    async def cancel(self, job_id: str, by: str) -> JobInfo:
        """Cancel a waiting job now or a running one at its next step; an ended job is left as it is.

        Raises `QueueClosedError` once `close()` has begun: the cancellation could no longer be saved.
        """
        self._refuse_if_closing()
        ledger = self._ledger
        if ledger.scheduler.is_waiting(job_id):
            ledger.scheduler.remove(job_id)
            info = finished(ledger.jobs[job_id], ledger.clock.time(), JobStatus.CANCELLED, cancelled_by=by)
            await ledger.settle([(info, JobCancelled(job_id, by))])
            return info
        run = ledger.run
        if run is not None and job_id in run.live:
            return await self._worker.cancel_running(run, job_id, by)
        return await self.get(job_id)

    async def get(self, job_id: str) -> JobInfo:
        """The job's snapshot, from memory while it is active, from the database after."""
        if job_id in self._ledger.jobs:
            return self._ledger.snapshot(job_id)
        stored = await self._ledger.store.get(job_id)
        if stored is None:
            raise JobNotFoundError(f"there is no job with id {job_id!r}")
        return stored.info

    async def active(self) -> list[JobInfo]:
        """Running jobs first, then waiting ones in the order they will run."""
        line = self._ledger.line()
        running = [job_id for job_id in self._ledger.jobs if job_id not in line]
        return [self._ledger.snapshot(job_id, line) for job_id in (*running, *line)]

    def subscribe(self) -> AsyncIterator[JobEvent]:
        """Every event from now on; a subscriber that lags too far is disconnected (see `events`)."""
        return self._ledger.hub.subscribe()

    async def pause(self) -> None:
        """Stop starting jobs and refuse submissions; the running call finishes."""
        self._worker.paused = True
        log.info("queue paused")

    async def resume(self) -> None:
        """Start jobs and accept submissions again."""
        self._worker.paused = False
        self._worker.wake()
        log.info("queue resumed")

    async def clear(self, by: str) -> list[JobInfo]:
        """Cancel every waiting job (the running call goes on); return them in the order they were.

        Raises `QueueClosedError` once `close()` has begun, like `cancel`.
        """
        self._refuse_if_closing()
        ledger = self._ledger
        now = ledger.clock.time()
        cancelled = []
        for ticket in ledger.scheduler.order():
            ledger.scheduler.remove(ticket.job_id)
            info = finished(ledger.jobs[ticket.job_id], now, JobStatus.CANCELLED, cancelled_by=by)
            cancelled.append((info, JobCancelled(ticket.job_id, by)))
        await ledger.settle(cancelled)
        log.info("queue cleared by=%s cancelled=%d", by, len(cancelled))
        return [info for info, _ in cancelled]

    async def acknowledge(self, job_id: str) -> None:
        """Record that the job's outcome reached its user. Raises `JobNotFoundError`."""
        if not await self._ledger.store.acknowledge(job_id, self._ledger.clock.time()):
            raise JobNotFoundError(f"there is no job with id {job_id!r}")

    async def outcome(self, job_id: str) -> JobFinished | JobFailed | JobCancelled:
        """The ended job's terminal event, rebuilt from storage; see `JobQueue.outcome`."""
        return await asyncio.to_thread(terminal_event, await self.get(job_id))

    async def update_context(self, job_id: str, context: str) -> None:
        """Replace the job's `JobSpec.context` and persist it. Raises `JobNotFoundError`."""
        ledger = self._ledger
        for infos in (ledger.jobs, ledger.run.infos if ledger.run is not None else {}):
            if job_id in infos:
                info = infos[job_id]
                infos[job_id] = replace(info, spec=replace(info.spec, context=context))
        if not await ledger.store.update_context(job_id, context):
            raise JobNotFoundError(f"there is no job with id {job_id!r}")

    def health(self) -> WorkerHealth:
        """The worker task runs (idle counts), and the model is loaded or still loading (not failed)."""
        task = self._worker_task
        return WorkerHealth(worker_alive=task is not None and not task.done(), model_ready=not self._gpu.load_failed)

    async def history(self, owner_id: str | None = None, limit: int = 10) -> list[JobInfo]:
        """Ended jobs, newest first, optionally only one owner's."""
        return [job.info for job in await self._ledger.store.history(owner_id, limit)]

    async def stats(self) -> QueueStats:
        """Outcome counts since the database was created, plus the live line and GPU memory."""
        ledger = self._ledger
        counts, mean_job_s = await ledger.store.outcomes()
        return QueueStats(
            waiting=ledger.scheduler.waiting_count,
            running=len(ledger.run.live) if ledger.run is not None else 0,
            succeeded=counts[JobStatus.SUCCEEDED],
            failed=counts[JobStatus.FAILED],
            cancelled=counts[JobStatus.CANCELLED],
            mean_job_s=mean_job_s,
            paused=self._worker.paused,
            gpu_memory_bytes=self._generator.memory_in_use(),
        )

    def _refuse_if_closing(self) -> None:
        # Past this point the store may be closed, and a change the user is told about would be lost.
        if self._closing is not None:
            raise QueueClosedError("the video queue is restarting; try again in a minute")

    async def _shut_down(self) -> None:
        if self._sweep_task is not None:
            self._sweep_task.cancel()
            await asyncio.gather(self._sweep_task, return_exceptions=True)
        self._worker.stop()
        task, clock, grace_s = self._worker_task, self._ledger.clock, self._settings.shutdown_grace_s
        if task is not None:
            done = await within(clock, task, grace_s)
            if not done:
                log.warning("shutdown: interrupting the running call after %g s", grace_s)
                self._worker.interrupt()
                done = await within(clock, task, _STOP_WAIT_S)
            if not done:
                # The generator ignores its token: abandon its thread, but keep its jobs for the next start.
                log.error("shutdown: the GPU thread did not stop within %g s; abandoning it", _STOP_WAIT_S)
                run = self._ledger.run
                task.cancel()
                if run is not None:
                    await self._worker.put_back(run, list(run.live))
        self._gpu.shutdown()
        await self._ledger.store.close()
        for events in self._ledger.logs.values():
            events.close()
        self._ledger.logs.clear()
        self._ledger.hub.close()
        log.info("queue closed waiting=%d", self._ledger.scheduler.waiting_count)


class _Handle:
    """What `submit` returns: the first snapshot, this job's event stream and a shortcut to cancel."""

    def __init__(self, queue: LocalJobQueue, info: JobInfo, events: JobEventLog) -> None:
        self._queue = queue
        self._info = info
        self._events = events

    @property
    def info(self) -> JobInfo:
        """The snapshot taken at submission."""
        return self._info

    def events(self) -> AsyncIterator[JobEvent]:
        """This job's events from submission on, ending after its terminal event."""
        return self._events.stream()

    async def cancel(self, by: str) -> JobInfo:
        """Cancel this job (see `LocalJobQueue.cancel`)."""
        return await self._queue.cancel(self._info.job_id, by)


def _learn_history(eta: EtaEstimator, successes: list[StoredJob]) -> None:
    """Teach `eta` the calls behind `successes` (newest first, as the store gives them), one sample each."""
    calls: set[tuple[float | None, float | None]] = set()
    # Oldest first, as they ran: the runs to come then push out the oldest history first.
    for success in reversed(successes):
        info, timings = success.info, success.info.timings
        call = (info.started_at, info.finished_at)  # shared by the members of one call, and only by them
        if timings is None or call in calls:
            continue
        calls.add(call)
        request, batch_size = info.spec.request, success.batch_size or 1
        # Members share the call's denoise and decode times; each clip is encoded on its own.
        after_s = timings.decode_s + timings.encode_s * batch_size
        eta.record(request.shape, request.cost * batch_size, timings.denoise_s + after_s, after_s=after_s)


def _ticket(job_id: str, spec: JobSpec, *, alone: bool = False) -> Ticket:
    return Ticket(job_id, spec.owner_id, spec.request.shape, spec.request.cost, alone=alone)


def _crash_reason(crashes: int) -> str:
    return f"this prompt crashed the worker {crashes} times, so it will not be run again"
