"""ETAs learnt from finished runs: per cost unit, per shape when known, nothing made up."""

from __future__ import annotations

from pathlib import Path

import pytest

from generation.queue.core import QueueCore
from generation.queue.eta import EtaEstimator
from generation.queue.events import EventHub
from generation.queue.interface import JobInfo, JobStarted, JobStatus
from generation.queue.scheduler import FairScheduler
from generation.queue.settings import QueueSettings
from generation.queue.source import BatchLimits
from generation.queue.store import JobStore
from generation.results import GeneratedClip, Timings, VideoFile
from tests.fakes.clock import FakeClock
from tests.fakes.gate import Gate
from tests.fakes.generator import FakeGenerator
from tests.queue.conftest import MakeQueue, events_of, first, request, spec, stub_encoder

COST = request().cost


def test_nothing_is_estimated_before_a_run_is_known() -> None:
    assert EtaEstimator(window=5).estimate("s", cost=10) is None


def test_estimate_scales_with_cost() -> None:
    eta = EtaEstimator(window=5)
    eta.record("s", cost=10, seconds=5.0, after_s=1.0)

    assert eta.estimate("s", cost=20) == pytest.approx(10.0)


def test_runs_of_the_same_shape_are_preferred_over_the_overall_average() -> None:
    eta = EtaEstimator(window=5)
    eta.record("small", cost=10, seconds=1.0, after_s=0.0)
    eta.record("large", cost=10, seconds=9.0, after_s=0.0)

    assert eta.estimate("small", cost=10) == pytest.approx(1.0)
    assert eta.estimate("unseen", cost=10) == pytest.approx(5.0)


def test_only_the_last_window_of_runs_counts() -> None:
    eta = EtaEstimator(window=2)
    for seconds in (100.0, 2.0, 2.0):
        eta.record("s", cost=1, seconds=seconds, after_s=0.0)

    assert eta.estimate("s", cost=1) == pytest.approx(2.0)


def test_a_running_job_is_extrapolated_from_its_own_pace_once_a_step_is_done() -> None:
    eta = EtaEstimator(window=5)
    eta.record("s", cost=1, seconds=100.0, after_s=0.0)

    assert eta.remaining("s", cost=1, elapsed_s=2.0, step=1, total_steps=5) == pytest.approx(8.0)
    assert eta.remaining("s", cost=1, elapsed_s=30.0) == pytest.approx(70.0)


def test_a_running_job_past_its_last_step_still_has_decoding_and_encoding_ahead() -> None:
    eta = EtaEstimator(window=5)
    eta.record("s", cost=2, seconds=100.0, after_s=20.0)

    assert eta.remaining("s", cost=1, elapsed_s=40.0, step=10, total_steps=10) == pytest.approx(10.0)
    assert eta.remaining("s", cost=1, elapsed_s=20.0, step=5, total_steps=10) == pytest.approx(30.0)


async def test_while_half_of_a_failed_batch_runs_the_other_half_is_still_ahead(tmp_path: Path) -> None:
    eta = EtaEstimator(window=5)
    eta.record(request().shape, cost=request().cost, seconds=10.0, after_s=0.0)
    clock = FakeClock()
    store = JobStore(tmp_path / "jobs.sqlite3")
    await store.open()
    core = QueueCore(FairScheduler(10, 10), store, eta, EventHub(10), clock)
    await core.admit("a", spec("ann"))
    await core.admit("b", spec("bob"))
    await core.take(BatchLimits(2))
    await core.begin(["a"])  # the retry of the first half, "b" waits for its turn

    clock.advance(4.0)

    assert core.snapshot("a").eta_s == pytest.approx(6.0 + 10.0)
    await store.close()


async def test_a_job_being_encoded_is_not_reported_as_done(make_queue: MakeQueue, clock: FakeClock) -> None:
    encoding = Gate(held=True)

    def held_encoder(clip: GeneratedClip, path: Path) -> VideoFile:
        encoding.pass_through()
        return stub_encoder(clip, path)

    queue = await make_queue(FakeGenerator(clock=clock), encoder=held_encoder)
    try:
        learnt = await queue.submit(spec("ann"))
        await encoding.arrived(1)
        clock.advance(4.0)  # history: encoding takes 4 s after the last step
        encoding.release()
        await events_of(learnt)
        held = await queue.submit(spec("ann"))
        await encoding.arrived(2)  # every step is done, the video is being encoded
        info = await queue.get(held.info.job_id)
    finally:
        encoding.open()  # so the queue can close, whatever happened

    assert info.status is JobStatus.RUNNING
    assert info.eta_s == pytest.approx(4.0)


def ended_run(job_id: str, seconds: float, started_at: float, finished_at: float) -> JobInfo:
    """A succeeded job of the default request whose call took `seconds`, all of it denoising."""
    return JobInfo(
        job_id=job_id,
        spec=spec("ann"),
        status=JobStatus.SUCCEEDED,
        position=None,
        eta_s=None,
        submitted_at=started_at,
        started_at=started_at,
        finished_at=finished_at,
        timings=Timings(denoise_s=seconds),
    )


async def save_history(settings: QueueSettings, *batches: list[JobInfo]) -> None:
    """Write what a previous run of the queue left, oldest batch first."""
    store = JobStore(settings.database_path)
    await store.open()
    for batch in batches:
        await store.save(batch, batch_size=len(batch))
    await store.close()


@pytest.mark.local_only  # the history is seeded in SQLite
async def test_after_a_restart_new_runs_push_out_the_oldest_history_first(
    make_queue: MakeQueue, queue_settings: QueueSettings
) -> None:
    await save_history(
        queue_settings,
        [ended_run("old", seconds=1000 * COST, started_at=1.0, finished_at=2.0)],
        [ended_run("new", seconds=100 * COST, started_at=3.0, finished_at=4.0)],
    )
    queue = await make_queue(eta_window=2)

    await events_of(await queue.submit(spec("ann")))  # a run that takes no time, and "old" makes way for it
    started = await first(await queue.submit(spec("ann")), JobStarted)

    assert started.eta_s == pytest.approx(100 * COST / 2)


@pytest.mark.local_only  # the history is seeded in SQLite
async def test_a_batch_in_the_history_counts_as_one_run_not_one_per_member(
    make_queue: MakeQueue, queue_settings: QueueSettings
) -> None:
    waiting = JobInfo("waiting", spec("bob"), JobStatus.QUEUED, position=None, eta_s=None, submitted_at=5.0)
    await save_history(
        queue_settings,
        [ended_run("single", seconds=100 * COST, started_at=1.0, finished_at=2.0)],
        [
            ended_run("pair-1", seconds=20 * COST, started_at=3.0, finished_at=4.0),
            ended_run("pair-2", seconds=20 * COST, started_at=3.0, finished_at=4.0),
        ],
        [waiting],
    )
    queue = await make_queue(eta_window=3, start=False)

    found = {info.job_id: info for info in await queue.start()}

    assert found["waiting"].eta_s == pytest.approx((100 + 20) / (1 + 2) * COST)
