"""What a GPU worker needs from the queue, and all it may do to it: the `JobSource` seam.

The worker (`worker.py`) takes batches in the fair order, says when an attempt starts, reports
progress, asks whether a job is still wanted and ends each job with an `Ending`. Nothing else of the
queue's state is its business, so the same worker can drive the in-process queue (`core.QueueCore`)
or one served over a network. Every call here is small, and what crosses it is plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from generation.queue.interface import Actor, JobInfo
from generation.results import Timings, VideoFile


@dataclass(frozen=True)
class Succeeded:
    """The video is on disk."""

    video: VideoFile
    seed: int
    timings: Timings
    batch_size: int
    """How many jobs shared its pipeline call."""


@dataclass(frozen=True)
class Failed:
    """The job failed; `reason` is what the user is told."""

    reason: str


@dataclass(frozen=True)
class Cancelled:
    """The job was cancelled by `by`, or (None) by whoever the queue recorded asking."""

    by: Actor | None = None


Ending = Succeeded | Failed | Cancelled
"""How a job ended: the one thing `JobSource.end` takes."""


@dataclass(frozen=True)
class BatchLimits:
    """How many same-shape jobs one pipeline call may take: `default`, lowered for some shapes."""

    default: int
    by_shape: Mapping[Hashable, int] = field(default_factory=dict)

    def for_shape(self, shape: Hashable) -> int:
        """The limit for batches of `shape`."""
        return max(1, min(self.default, self.by_shape.get(shape, self.default)))


class JobSource(Protocol):
    """The queue as a worker sees it."""

    async def take(self, limits: BatchLimits) -> list[JobInfo] | None:
        """Wait for the next batch in the fair order (up to `limits` same-shape jobs, now running);
        None once the queue is stopping."""
        ...

    async def begin(self, job_ids: Sequence[str]) -> float:
        """An attempt (one pipeline call) for these running jobs starts now; saved before it runs, so
        a crash during it is seen at the next start. Returns its start time."""
        ...

    def progress(self, job_ids: Sequence[str], step: int, total: int) -> None:
        """The attempt for these jobs finished denoising step `step` of `total`."""
        ...

    def wanted(self, job_id: str) -> bool:
        """True while the job is running and nobody asked to cancel it."""
        ...

    def on_cancel(self, listener: Callable[[str], None]) -> None:
        """Call `listener(job_id)` when a running job's cancellation is asked for."""
        ...

    async def end(self, job_id: str, ending: Ending, *, wait: bool = True) -> bool:
        """End the job, whatever the outcome; False (and nothing changes) if it had ended already.

        With `wait`, return once the ending is saved; without, once it is queued for saving (it is
        announced after the save either way).
        """
        ...

    async def put_back(self, job_ids: Sequence[str]) -> None:
        """Shutdown stopped these running jobs: save them as waiting for the next start (no crash is
        counted); any whose cancellation was asked for end cancelled instead."""
        ...

    def learn(self, shape: Hashable, cost: float, run_s: float, after_s: float) -> None:
        """A call of `shape` and total `cost` took `run_s` seconds, `after_s` of them after its last step."""
        ...
