"""`QueueCore` tells each waiting job the place and ETA a replay of the whole line gives, whether it
replays the line for an admission or, for a new member's job that goes last, only places that one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from generation.queue.core import QueueCore
from generation.queue.eta import EtaEstimator
from generation.queue.events import EventHub
from generation.queue.interface import JobQueued
from generation.queue.scheduler import FairScheduler
from generation.queue.source import BatchLimits
from generation.queue.store import JobStore
from tests.fakes.clock import FakeClock
from tests.queue.conftest import request, spec

PER_JOB_S = 4.0 * request().cost
# New members (each one's job goes last), members' second jobs (in a later round: others move), a job
# taken (None: everyone moves up, and ETAs count the taken job's estimate), then new members again.
STEPS = ["ann", "bob", "cat", "ann", "dan", "bob", "eve", None, "fay", "gus", "cat", "hal"]


async def replay_after(steps: Sequence[str | None], database: Path) -> None:
    """Run `steps` on a fresh queue; check each reply, then the places announced against a replay."""
    store = JobStore(database)
    await store.open()
    scheduler, eta = FairScheduler(100, 3), EtaEstimator(5)
    eta.record(request().shape, request().cost, PER_JOB_S, after_s=0.0)
    core = QueueCore(scheduler, store, eta, EventHub(10_000), FakeClock())
    events = core.subscribe()
    running_s = 0.0
    for number, owner in enumerate(steps):
        if owner is None:
            await core.take(BatchLimits(1))
            running_s = PER_JOB_S  # taken, not begun: its whole estimate is left
            continue
        reply = await core.admit(f"{owner}-{number}", spec(owner))
        place = [ticket.job_id for ticket in scheduler.order()].index(reply.job_id) + 1
        assert (reply.position, reply.eta_s) == (place, pytest.approx(running_s + place * PER_JOB_S))
    core.close()
    await store.close()

    announced = {event.job_id: event.position async for event in events if isinstance(event, JobQueued)}
    line = [ticket.job_id for ticket in scheduler.order()]
    assert {job_id: announced[job_id] for job_id in line} == {job_id: n for n, job_id in enumerate(line, 1)}


@pytest.mark.parametrize("steps", range(1, len(STEPS) + 1))
async def test_after_every_admission_the_places_announced_are_a_replays(steps: int, tmp_path: Path) -> None:
    await replay_after(STEPS[:steps], tmp_path / "jobs.sqlite3")
