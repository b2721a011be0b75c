"""A job's life in the local queue: events, places in line, ETAs, snapshots, history and refusals."""

from __future__ import annotations

import logging

import pytest

from generation.errors import (
    JobNotFoundError,
    ModelLoadError,
    QueueClosedError,
    QueueFullError,
    UserQueueLimitError,
)
from generation.queue.interface import (
    JobFailed,
    JobFinished,
    JobProgress,
    JobQueued,
    JobStarted,
    JobStatus,
    Person,
    WorkerHealth,
)
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FAKE_MEMORY_BYTES, FakeGenerator
from tests.queue.conftest import MakeQueue, events_of, spec


async def test_a_jobs_events_run_queued_started_progress_finished(make_queue: MakeQueue) -> None:
    queue = await make_queue()

    handle = await queue.submit(spec("ann", steps=3))
    events = await events_of(handle)

    assert events[0] == JobQueued(handle.info.job_id, position=1, eta_s=None)
    assert [type(e) for e in events[1:]] == [JobStarted, JobProgress, JobProgress, JobProgress, JobFinished]
    assert [(e.step, e.total) for e in events if isinstance(e, JobProgress)] == [(1, 3), (2, 3), (3, 3)]


async def test_finished_job_has_its_video_seed_and_timings(make_queue: MakeQueue, clock: FakeClock) -> None:
    generator = FakeGenerator(hold_steps=True, clock=clock)
    queue = await make_queue(generator)

    handle = await queue.submit(spec("ann", seed=1234))
    await generator.steps.arrived(1)
    clock.advance(1.5)  # denoising takes 1.5 s
    generator.steps.open()
    finished = (await events_of(handle))[-1]

    assert isinstance(finished, JobFinished)
    assert finished.result.seed == 1234
    assert finished.result.video.path.read_bytes()
    assert finished.result.timings.denoise_s == pytest.approx(1.5)
    info = await queue.get(handle.info.job_id)
    assert info.status is JobStatus.SUCCEEDED
    assert info.video_path == str(finished.result.video.path)
    assert info.attempts == 1


async def test_subscribers_get_every_event_in_order(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    everything = queue.subscribe()

    handles = [await queue.submit(spec(owner)) for owner in ("ann", "bob")]
    per_job = {h.info.job_id: await events_of(h) for h in handles}
    await queue.close()
    seen = [event async for event in everything]

    for job_id, events in per_job.items():
        assert [e for e in seen if e.job_id == job_id] == events


async def test_positions_move_up_and_etas_shrink_as_the_line_moves(make_queue: MakeQueue, clock: FakeClock) -> None:
    generator = FakeGenerator(hold_steps=True, clock=clock)
    queue = await make_queue(generator)
    await queue.submit(spec("ann"))
    await generator.steps.arrived(1)  # ann's job runs
    waiting = [await queue.submit(spec(owner)) for owner in ("bob", "cat", "dan")]

    for job in range(4):  # each job takes 6 s
        await generator.steps.arrived(3 * job + 1)  # its first step of 3
        clock.advance(6.0)
        generator.steps.release(3)
    last = await events_of(waiting[-1])

    moves = [(e.position, e.eta_s) for e in last if isinstance(e, JobQueued)]
    # Nothing had finished when dan joined; then his video is three 6 s runs away, then two.
    assert moves == [(3, None), (2, pytest.approx(18.0)), (1, pytest.approx(12.0))]


async def test_submission_snapshot_reports_the_place_in_line(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator)
    await queue.submit(spec("ann"))
    await generator.steps.arrived(1)  # ann's first job runs

    second = await queue.submit(spec("ann"))
    third = await queue.submit(spec("bob"))

    assert (second.info.status, second.info.position) == (JobStatus.QUEUED, 1)
    assert third.info.position == 1  # bob's first job goes ahead of ann's second
    assert (await queue.get(second.info.job_id)).position == 2


async def test_active_lists_running_then_waiting_in_run_order(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator)
    first = await queue.submit(spec("ann"))
    second = await queue.submit(spec("ann"))
    third = await queue.submit(spec("bob"))
    await generator.steps.arrived(1)  # the first job runs

    active = await queue.active()

    assert [(i.job_id, i.status, i.position) for i in active] == [
        (first.info.job_id, JobStatus.RUNNING, 0),
        (third.info.job_id, JobStatus.QUEUED, 1),
        (second.info.job_id, JobStatus.QUEUED, 2),
    ]


async def test_history_and_stats_count_outcomes(make_queue: MakeQueue, clock: FakeClock) -> None:
    generator = FakeGenerator(hold_steps=True, clock=clock)
    queue = await make_queue(generator)
    done = [await queue.submit(spec("ann")), await queue.submit(spec("bob")), await queue.submit(spec("ann"))]
    failing = await queue.submit(spec("bob", prompt="please FAIL"))
    await generator.steps.arrived(1)
    clock.advance(6.0)  # ann's first job runs 6 s, the others take no time
    generator.steps.open()
    for handle in (*done, failing):
        await events_of(handle)

    stats = await queue.stats()
    anns = await queue.history("ann")

    assert (stats.succeeded, stats.failed, stats.cancelled, stats.waiting, stats.running) == (3, 1, 0, 0, 0)
    assert stats.mean_job_s == pytest.approx(6.0 / 3)
    assert stats.gpu_memory_bytes == FAKE_MEMORY_BYTES
    assert [i.job_id for i in anns] == [done[2].info.job_id, done[0].info.job_id]
    assert len(await queue.history(limit=2)) == 2


async def test_stats_list_the_worker_with_what_it_did(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    await events_of(await queue.submit(spec("ann")))

    [worker] = (await queue.stats()).workers

    assert (worker.alive, worker.model_ready, worker.jobs_done, worker.current_jobs) == (True, True, 1, ())
    assert worker.host


async def test_owner_over_the_cap_is_refused_with_the_limit_named(make_queue: MakeQueue) -> None:
    queue = await make_queue(FakeGenerator(hold_steps=True), queue_max_per_user=2)  # nothing ends
    await queue.submit(spec("ann"))
    await queue.submit(spec("ann"))

    with pytest.raises(UserQueueLimitError, match=r"limit: 2"):
        await queue.submit(spec("ann"))
    await queue.submit(spec("bob"))


async def test_full_queue_refuses_with_the_limit_named(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator, queue_max_jobs=2)
    await queue.submit(spec("ann"))
    await generator.steps.arrived(1)  # ann's runs
    for owner in ("bob", "cat"):  # and two wait
        await queue.submit(spec(owner))

    with pytest.raises(QueueFullError, match=r"limit: 2"):
        await queue.submit(spec("dan"))


async def test_closed_queue_refuses_new_jobs(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    await queue.close()

    with pytest.raises(QueueClosedError):
        await queue.submit(spec("ann"))


async def test_unknown_job_is_not_found(make_queue: MakeQueue) -> None:
    queue = await make_queue()

    with pytest.raises(JobNotFoundError):
        await queue.get("nope")
    with pytest.raises(JobNotFoundError):
        await queue.cancel("nope", by=Person("ann"))


async def test_one_log_line_per_job_event(make_queue: MakeQueue, caplog: pytest.LogCaptureFixture) -> None:
    queue = await make_queue()
    caplog.set_level(logging.DEBUG, logger="generation.queue")

    handle = await queue.submit(spec("ann"))
    await events_of(handle)

    job_id = handle.info.job_id
    lines = [r.getMessage() for r in caplog.records if f"job_id={job_id}" in r.getMessage()]
    assert [line.split(" job_id=")[0] for line in lines] == ["job queued", "job started", "job succeeded"]
    assert "owner=ann group=g1 batch=1" in lines[1]
    assert "wait_s=" in lines[2]
    assert "run_s=" in lines[2]


async def test_context_can_be_replaced_and_is_kept_in_history(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator)
    handle = await queue.submit(spec("ann"))
    await generator.steps.arrived(1)

    await queue.update_context(handle.info.job_id, "channel=1 message=2")  # while it runs
    generator.steps.open()
    await events_of(handle)

    (ended,) = await queue.history("ann")
    assert ended.spec.context == "channel=1 message=2"
    with pytest.raises(JobNotFoundError):
        await queue.update_context("nope", "x")


async def test_health_reports_the_worker_alive_until_closed(make_queue: MakeQueue) -> None:
    queue = await make_queue()

    assert queue.health() == WorkerHealth(worker_alive=True, model_ready=True)
    await queue.close()
    assert not queue.health().worker_alive


class UnloadableGenerator(FakeGenerator):
    """A model that cannot be loaded (bad id, missing files)."""

    def load(self) -> float:
        raise ModelLoadError("no model at 'nowhere'")


async def test_a_model_that_cannot_load_is_reported_and_its_jobs_fail_with_why(make_queue: MakeQueue) -> None:
    queue = await make_queue(UnloadableGenerator())

    failed = (await events_of(await queue.submit(spec("ann"))))[-1]

    assert failed == JobFailed(failed.job_id, "no model at 'nowhere'")
    assert queue.health() == WorkerHealth(worker_alive=True, model_ready=False)
