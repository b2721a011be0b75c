"""The job queue as the bot sees it: submit, watch, cancel, inspect. No torch, no Discord.

`LocalJobQueue` (in-process asyncio, one GPU worker) is the default implementation; a distributed
backend implements the same `JobQueue` Protocol and the bot does not change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from generation.profiles import ModelProfile
from generation.queue.allowance import Allowance, QuotaUsage
from generation.request import VideoRequest
from generation.results import Timings, VideoResult


class JobStatus(StrEnum):
    """Life cycle of a job: queued → running → one of the three terminal states."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """True for succeeded, failed and cancelled."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class SystemActor(StrEnum):
    """Who cancelled a job when no person did."""

    BOT = "system"
    """The bot took the job back: its acknowledgement never reached the user."""
    UNKNOWN = "unknown"
    """Not recorded (a job cancelled before the database said by whom)."""


@dataclass(frozen=True)
class Person:
    """A person who cancelled a job (its owner, a moderator, an admin), by the id the consumer uses."""

    id: str


Actor = Person | SystemActor
"""Who cancelled a job."""


def actor_text(actor: Actor) -> str:
    """How an actor is stored and logged: a system actor's name, or the person's id."""
    return actor.value if isinstance(actor, SystemActor) else actor.id


def actor_from_text(text: str) -> Actor:
    """The actor `actor_text` wrote (system actors are a closed set of names; anything else is a person)."""
    try:
        return SystemActor(text)
    except ValueError:
        return Person(text)


@dataclass(frozen=True)
class JobSpec:
    """What to run and for whom.

    `owner_id` is the fairness key (one user); `group_id` groups owners for stats (a guild).
    `context` is opaque to the queue and persisted with the job: the bot keeps there what it needs to
    deliver the result after a restart (channel, message ids, ...). `allowance` is what the owner may
    use (quota, jobs held, weight), decided by the bot at submission and enforced by the queue.
    """

    request: VideoRequest
    owner_id: str
    group_id: str = ""
    context: str = ""
    allowance: Allowance = field(default_factory=Allowance)


@dataclass(frozen=True)
class JobInfo:
    """A snapshot of one job.

    `position` is 1-based among waiting jobs in the order the fair scheduler will run them, 0 while
    running, None once terminal. `eta_s` estimates the seconds from now until the job finishes
    (None when terminal or when nothing is known yet).
    """

    job_id: str
    spec: JobSpec
    status: JobStatus
    position: int | None
    eta_s: float | None
    submitted_at: float
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    seed: int | None = None
    error: str | None = None
    cancelled_by: Actor | None = None
    video_path: str | None = None
    timings: Timings | None = None


@dataclass(frozen=True)
class JobQueued:
    """A job entered the queue or its place changed (also sent for jobs re-queued after a restart)."""

    job_id: str
    position: int
    eta_s: float | None
    recovered: bool = False


@dataclass(frozen=True)
class JobStarted:
    """The worker picked the job up (possibly in a batch of `batch_size` same-shape jobs).

    `loading` names the model the GPU loads first to run it (it held another one), else None: the
    status says so until the first denoising step.
    """

    job_id: str
    batch_size: int
    eta_s: float | None
    loading: str | None = None


@dataclass(frozen=True)
class JobProgress:
    """One denoising step finished."""

    job_id: str
    step: int
    total: int
    elapsed_s: float


@dataclass(frozen=True)
class JobFinished:
    """The MP4 is on disk."""

    job_id: str
    result: VideoResult


@dataclass(frozen=True)
class JobFailed:
    """The job failed; `reason` is written for the end user."""

    job_id: str
    reason: str


@dataclass(frozen=True)
class JobCancelled:
    """The job was cancelled by `by`: a person (its owner, a moderator, an admin) or the system."""

    job_id: str
    by: Actor


JobEvent = JobQueued | JobStarted | JobProgress | JobFinished | JobFailed | JobCancelled


@dataclass(frozen=True)
class WorkerStatus:
    """One GPU worker as the queue last heard of it (the in-process queue has exactly one)."""

    name: str
    host: str
    gpu: str
    current_jobs: tuple[str, ...]
    jobs_done: int
    last_heartbeat: float
    """When it was last heard from, in seconds since the epoch."""
    alive: bool
    """False once it stopped heartbeating (gone) or stopped."""
    model_ready: bool
    memory_bytes: int | None = None


@dataclass(frozen=True)
class QueueStats:
    """Counters for `/stats` and metrics."""

    waiting: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    mean_job_s: float | None
    paused: bool
    gpu_memory_bytes: int | None
    workers: tuple[WorkerStatus, ...] = ()
    waiting_by_model: tuple[tuple[str, int], ...] = ()
    """Waiting jobs per model name (in-process: every served model, zeros included)."""


@dataclass(frozen=True)
class WorkerHealth:
    """Liveness for health checks: a worker loop runs, and the model is loaded or still loading.

    With workers elsewhere (Redis), alive means at least one worker heartbeats, and ready means one
    of those has a usable model.
    """

    worker_alive: bool
    model_ready: bool


@dataclass(frozen=True)
class ServedModel:
    """A model this deployment serves now, under the public name members pick it by.

    `profile` says what it makes (sizes, frame rule, limits, text or image to video); `workers` is
    how many live GPUs hold it or can load it (in-process: the one GPU).
    """

    name: str
    profile: ModelProfile
    workers: int


class JobHandle(Protocol):
    """Returned by `submit`: the job's id and first snapshot, its own event stream, and cancel."""

    @property
    def info(self) -> JobInfo:
        """The snapshot taken at submission (position and ETA then)."""
        ...

    def events(self) -> AsyncIterator[JobEvent]:
        """This job's events from submission on; ends after its terminal event (`JobQueue.watch`)."""
        ...

    async def cancel(self, by: Actor) -> JobInfo:
        """Cancel this job (see `JobQueue.cancel`)."""
        ...


class JobQueue(Protocol):
    """A fair, bounded, durable queue in front of one GPU worker."""

    async def start(self) -> list[JobInfo]:
        """Open storage, re-queue jobs left by a previous run and start the worker.

        Returns the jobs a consumer must pick up again, to `watch` like any other: the re-queued ones,
        and the ended ones whose outcome was never acknowledged (see `acknowledge`).
        """
        ...

    async def close(self) -> None:
        """Stop accepting, let the running job finish (bounded by the grace period), persist the rest."""
        ...

    async def submit(self, spec: JobSpec) -> JobHandle:
        """Queue a job.

        Raises `QuotaExceededError` (the spec's allowance has no video left today), `QueueFullError`,
        `UserQueueLimitError` (the allowance's `max_held`, if set, is the per-owner cap), `QueuePausedError`
        or `QueueClosedError`. The check and the count are one atomic step: of concurrent submissions
        against one quota, exactly as many as it has left are accepted.
        """
        ...

    async def quota_usage(self, allowance: Allowance) -> QuotaUsage:
        """Where `allowance`'s daily quota (its `quota_key` over its window) stands now, on the queue's clock.

        Jobs count while waiting, running and once succeeded; failed and cancelled ones do not (see
        `generation.queue.quota`). Without a `quota_key`: nothing used.
        """
        ...

    def watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        """The job's events from its submission (or, for a job recovered at `start`, from then) until
        and including its terminal one, for any job that is live or ended but not yet acknowledged.

        A job that ended in an earlier run yields only its terminal event, rebuilt from storage (a
        success whose video is no longer readable comes back as a `JobFailed`). Iterating raises
        `JobNotFoundError` for an unknown job. Every watcher gets every event; the stream of a job
        still live when the queue closes ends without a terminal event.
        """
        ...

    async def cancel(self, job_id: str, by: Actor) -> JobInfo:
        """Cancel a queued job at once, or a running one at its next step.

        Raises `JobNotFoundError`, or `QueueClosedError` once the queue is closing (it could not be saved).

        Cancelling a job that already ended changes nothing and returns its snapshot.
        """
        ...

    async def get(self, job_id: str) -> JobInfo:
        """The job's current snapshot, from memory or history. Raises `JobNotFoundError`."""
        ...

    async def active(self) -> list[JobInfo]:
        """Running jobs first, then waiting jobs in the order they will run."""
        ...

    def subscribe(self) -> AsyncIterator[JobEvent]:
        """Every job's events from now on, in order, until the queue closes."""
        ...

    async def pause(self) -> None:
        """Stop starting new jobs (the running one finishes); submissions are refused while paused."""
        ...

    async def resume(self) -> None:
        """Undo `pause`."""
        ...

    async def clear(self, by: Actor) -> list[JobInfo]:
        """Cancel every waiting job (not the running one); return what was cancelled.

        Raises `QueueClosedError` once the queue is closing.
        """
        ...

    async def history(self, owner_id: str | None = None, limit: int = 10) -> list[JobInfo]:
        """Recently finished jobs, newest first, optionally of one owner."""
        ...

    async def stats(self) -> QueueStats:
        """Counters since the database was created."""
        ...

    async def models(self) -> tuple[ServedModel, ...]:
        """The models served (`ServedModel.workers`: the live GPUs that hold or load each; in Redis, a
        model whose workers are all gone lately is listed with 0, its jobs wait for one), in the
        deployment's order (in-process: `MODELS`; in Redis: by name); the first is the default."""
        ...

    def health(self) -> WorkerHealth:
        """Whether the worker is alive and its model usable; cheap, for frequent health checks."""
        ...

    async def acknowledge(self, job_id: str) -> None:
        """The consumer told the user this job's outcome: `start` will not hand it back again.

        May be called after `close()`, for outcomes still being shown when the queue closed.
        Raises `JobNotFoundError`.
        """
        ...

    async def outcome(self, job_id: str) -> JobFinished | JobFailed | JobCancelled:
        """The terminal event an ended job finished with, rebuilt from storage (for `start`'s jobs).

        A success whose video is no longer readable comes back as a `JobFailed`. Raises
        `JobNotFoundError`, or `ValueError` when the job has not ended.
        """
        ...

    async def update_context(self, job_id: str, context: str) -> None:
        """Replace a job's opaque `JobSpec.context` and persist it (e.g. once its status message exists).

        Raises `JobNotFoundError`.
        """
        ...
