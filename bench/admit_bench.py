"""Admission benchmark: the CPU one `/video` costs the in-process queue, as the line grows.

    python -m bench.admit_bench [--depths 100 1000 5000] [--jobs 300] [--repeats 3]

For each depth a fresh `QueueCore` (real `FairScheduler`, estimates known, a store that saves nothing,
so what is measured is the queue's own work) is filled with that many jobs from as many members, one
each, then `--jobs` more are admitted and timed (CPU time of this process, best of `--repeats`):

- `new members`: each from a member with nothing waiting, as in a burst of `/video` from a crowd; the
  job goes last, its place is found without replaying the line;
- `second jobs`: each from a member already waiting, whose job goes to a later round, so every job
  behind it moves and is told its new place: the line is replayed (O(line) by nature).

Prints microseconds per admission and the events published per admission; no assertions. Run it on two
commits back to back to compare them (the queue's API is what it calls, so it runs on older trees too).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from generation.clock import SystemClock
from generation.queue.core import QueueCore
from generation.queue.eta import EtaEstimator
from generation.queue.events import EventHub
from generation.queue.interface import JobEvent, JobInfo, JobSpec
from generation.queue.scheduler import FairScheduler
from generation.queue.store import JobStore
from generation.request import VideoRequest

REQUEST = VideoRequest("a benchmark", steps=1, num_frames=1, width=64, height=64)


class NullStore(JobStore):
    """Saves nothing: the benchmark measures the queue, not SQLite."""

    def __init__(self) -> None:
        super().__init__(Path(":memory:"))

    async def save(self, jobs: Sequence[JobInfo], *, batch_size: int | None = None) -> None:
        """Nothing to save."""

    def save_soon(self, jobs: Sequence[JobInfo], *, batch_size: int | None = None) -> asyncio.Future[None]:
        """A save that is already done."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class _Counter(EventHub):
    """Counts what is published and keeps none of it."""

    def __init__(self) -> None:
        super().__init__(1)
        self.published = 0

    def publish(self, event: JobEvent) -> None:
        self.published += 1


async def admissions(depth: int, jobs: int, returning: bool) -> tuple[float, float]:
    """Microseconds of CPU and events per admission of `jobs` jobs into a line `depth` deep."""
    eta = EtaEstimator(5)
    eta.record(REQUEST.shape, REQUEST.cost, 30.0, after_s=0.0)
    hub = _Counter()
    core = QueueCore(FairScheduler(depth + jobs, 3), NullStore(), eta, hub, SystemClock())
    for number in range(depth):
        await core.admit(f"fill-{number}", JobSpec(REQUEST, owner_id=f"m{number}", group_id="g"))
    owners = [f"m{number % depth}" if returning else f"new{number}" for number in range(jobs)]
    hub.published = 0
    started = time.process_time()
    for number, owner in enumerate(owners):
        await core.admit(f"job-{number}", JobSpec(REQUEST, owner_id=owner, group_id="g"))
    spent = time.process_time() - started
    return spent / jobs * 1e6, hub.published / jobs


async def main(depths: Sequence[int], jobs: int, repeats: int) -> None:
    print(f"{'depth':>6} | {'new members µs':>14} | {'events':>6} | {'second jobs µs':>14} | {'events':>6}")
    for depth in depths:
        row = []
        for returning in (False, True):
            runs = [await admissions(depth, jobs, returning) for _ in range(repeats)]
            row.append((min(us for us, _ in runs), runs[0][1]))
        (new_us, new_events), (again_us, again_events) = row
        print(f"{depth:>6} | {new_us:>14.1f} | {new_events:>6.1f} | {again_us:>14.1f} | {again_events:>6.1f}")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depths", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--jobs", type=int, default=300, help="admissions timed per depth")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _parse()
    asyncio.run(main(arguments.depths, arguments.jobs, arguments.repeats))
