"""`QueueCore`: one place ends a job, and only the first ending of a job counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from generation.queue.core import ENDED_LOGS_KEPT, QueueCore
from generation.queue.eta import EtaEstimator
from generation.queue.events import EventHub
from generation.queue.interface import JobCancelled, JobFailed, JobStatus, Person
from generation.queue.scheduler import FairScheduler
from generation.queue.source import BatchLimits, Cancelled, Failed, Succeeded
from generation.queue.store import JobStore
from generation.results import Timings, VideoFile
from tests.fakes.clock import FakeClock
from tests.queue.conftest import spec


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[QueueCore]:
    store = JobStore(tmp_path / "jobs.sqlite3")
    await store.open()
    yield QueueCore(FairScheduler(10, 10), store, EtaEstimator(5), EventHub(100), FakeClock())
    await store.close()


async def test_a_second_ending_of_a_job_changes_nothing(core: QueueCore, tmp_path: Path) -> None:
    await core.admit("a", spec("ann"))
    [taken] = await core.take(BatchLimits(1)) or []
    await core.begin([taken.job_id])
    events = core.watch("a")
    assert events is not None
    video = VideoFile(tmp_path / "a.mp4", 10, 64, 64, 2, 8)

    first = await core.end("a", Failed("it broke"))
    second = await core.end("a", Succeeded(video, 7, Timings(), batch_size=1))

    assert (first, second) == (True, False)
    assert [event async for event in events][-1] == JobFailed("a", "it broke")
    assert not core.known("a")


async def test_a_running_job_ends_cancelled_by_whoever_asked(core: QueueCore) -> None:
    await core.admit("a", spec("ann"))
    await core.admit("b", spec("bob"))
    await core.take(BatchLimits(2))
    await core.begin(["a", "b"])

    asked = await core.cancel("a", by=Person("mod"))  # the only member anybody still wants is b: a ends now

    assert asked is not None
    assert (asked.status, asked.cancelled_by) == (JobStatus.CANCELLED, Person("mod"))
    stopping = await core.cancel("b", by=Person("bob"))  # the last wanted member: the call stops first
    assert stopping is not None
    assert (stopping.status, stopping.cancelled_by) == (JobStatus.RUNNING, Person("bob"))
    assert not core.wanted("b")
    events = core.watch("b")
    assert events is not None
    await core.end("b", Cancelled())  # the worker saw the call stop
    assert [event async for event in events][-1] == JobCancelled("b", Person("bob"))


async def test_only_the_latest_ended_jobs_keep_their_events_in_memory(core: QueueCore) -> None:
    # What a long-running bot holds per video made: bounded, so its memory and its collector's work are too.
    jobs = [f"j{n}" for n in range(ENDED_LOGS_KEPT + 50)]
    for job_id in jobs:
        await core.admit(job_id, spec("ann"))
        await core.take(BatchLimits(1))
        await core.begin([job_id])
        await core.end(job_id, Failed("it broke"))

    kept = [job_id for job_id in jobs if core.watch(job_id) is not None]

    assert kept == jobs[-ENDED_LOGS_KEPT:]
