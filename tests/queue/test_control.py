"""Cancelling, pausing, clearing and closing the local queue."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence

import pytest

from generation.errors import QueueClosedError, QueuePausedError
from generation.protocol import CancelToken, ProgressCallback
from generation.queue.interface import (
    JobCancelled,
    JobFinished,
    JobHandle,
    JobProgress,
    JobQueued,
    JobStarted,
    JobStatus,
)
from generation.queue.local import LocalJobQueue
from generation.request import VideoRequest
from generation.results import GeneratedClip
from tests.fakes.generator import FakeGenerator
from tests.queue.conftest import MakeQueue, events_of, first, spec, start_and_drain

pytestmark = pytest.mark.timeout(30)


async def test_cancelling_a_waiting_job_removes_it_and_moves_the_line_up(make_queue: MakeQueue) -> None:
    queue = await make_queue(FakeGenerator(step_delay_s=0.02))
    await queue.submit(spec("ann"))
    doomed = await queue.submit(spec("bob"))
    behind = await queue.submit(spec("cat"))

    info = await doomed.cancel(by="bob")

    assert (info.status, info.cancelled_by) == (JobStatus.CANCELLED, "bob")
    assert (await events_of(doomed))[-1] == JobCancelled(doomed.info.job_id, by="bob")
    moves = [e.position for e in await events_of(behind) if isinstance(e, JobQueued)]
    assert moves == [2, 1]
    assert (await queue.get(doomed.info.job_id)).status is JobStatus.CANCELLED


async def test_cancelling_a_running_job_stops_it_at_the_next_step(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(step_delay_s=0.02)
    queue = await make_queue(generator)
    running = await queue.submit(spec("ann", steps=100))
    following = await queue.submit(spec("bob"))
    await first(running, JobProgress)

    info = await queue.cancel(running.info.job_id, by="mod")

    assert (info.status, info.cancelled_by) == (JobStatus.RUNNING, "mod")  # stops at the next step
    events = await events_of(running)
    assert events[-1] == JobCancelled(running.info.job_id, by="mod")
    assert sum(isinstance(e, JobProgress) for e in events) < 10
    assert isinstance((await events_of(following))[-1], JobFinished)
    assert (await queue.get(running.info.job_id)).status is JobStatus.CANCELLED


async def test_cancelling_an_ended_job_changes_nothing(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    handle = await queue.submit(spec("ann"))
    await events_of(handle)

    info = await handle.cancel(by="ann")

    assert (info.status, info.cancelled_by) == (JobStatus.SUCCEEDED, None)


async def test_paused_queue_starts_nothing_and_refuses_jobs_until_resumed(make_queue: MakeQueue) -> None:
    queue = await make_queue(FakeGenerator(step_delay_s=0.02))
    running = await queue.submit(spec("ann"))
    waiting = await queue.submit(spec("bob"))

    await queue.pause()
    await events_of(running)
    await asyncio.sleep(0.1)

    assert (await queue.get(waiting.info.job_id)).status is JobStatus.QUEUED
    assert (await queue.stats()).paused
    with pytest.raises(QueuePausedError):
        await queue.submit(spec("cat"))
    await queue.resume()
    assert isinstance((await events_of(waiting))[-1], JobFinished)


async def test_clear_cancels_every_waiting_job_but_not_the_running_one(make_queue: MakeQueue) -> None:
    queue = await make_queue(FakeGenerator(step_delay_s=0.02))
    running = await queue.submit(spec("ann"))
    waiting = [await queue.submit(spec(owner)) for owner in ("bob", "cat", "ann")]
    await first(running, JobStarted)

    cleared = await queue.clear(by="admin")

    assert [i.job_id for i in cleared] == [h.info.job_id for h in waiting]
    assert {(i.status, i.cancelled_by) for i in cleared} == {(JobStatus.CANCELLED, "admin")}
    assert isinstance((await events_of(running))[-1], JobFinished)
    assert (await queue.stats()).cancelled == 3


async def test_close_lets_the_running_job_finish_and_keeps_the_rest(make_queue: MakeQueue) -> None:
    queue = await make_queue(FakeGenerator(step_delay_s=0.02))
    running = await queue.submit(spec("ann"))
    waiting = await queue.submit(spec("bob"))
    await first(running, JobStarted)

    await asyncio.gather(queue.close(), queue.close())

    assert isinstance((await events_of(running))[-1], JobFinished)
    assert [type(e) for e in await events_of(waiting)] == [JobQueued]  # the stream ends, job kept
    _, events = await start_and_drain(await make_queue(start=False))
    assert JobFinished in {type(e) for e in events if e.job_id == waiting.info.job_id}


async def test_close_past_the_grace_period_puts_the_running_job_back_without_a_crash(
    make_queue: MakeQueue,
) -> None:
    queue = await make_queue(FakeGenerator(step_delay_s=0.02), shutdown_grace_s=0.05)
    running = await queue.submit(spec("ann", steps=100))
    await first(running, JobProgress)

    await queue.close()

    assert not any(isinstance(e, JobFinished | JobCancelled) for e in await events_of(running))
    # One allowed attempt: had the interruption counted as a crash, the job would now be failed.
    again = await make_queue(job_max_attempts=1, start=False)
    found, events = await start_and_drain(again)
    assert [(i.job_id, i.status) for i in found] == [(running.info.job_id, JobStatus.QUEUED)]
    assert isinstance(events[-1], JobFinished)
    assert (await again.get(running.info.job_id)).attempts == 2


async def closed_with_one_waiting(make_queue: MakeQueue) -> tuple[LocalJobQueue, JobHandle]:
    """A queue closed while ann's job ran and bob's waited; returns it and bob's job."""
    queue = await make_queue(FakeGenerator(step_delay_s=0.02))
    running = await queue.submit(spec("ann"))
    waiting = await queue.submit(spec("bob"))
    await first(running, JobStarted)
    await queue.close()
    return queue, waiting


async def test_cancelling_after_close_is_refused_and_the_job_is_kept_for_the_next_start(
    make_queue: MakeQueue,
) -> None:
    _, waiting = await closed_with_one_waiting(make_queue)

    with pytest.raises(QueueClosedError):
        await waiting.cancel(by="bob")
    found, _ = await start_and_drain(await make_queue(start=False))
    assert (waiting.info.job_id, JobStatus.QUEUED) in [(i.job_id, i.status) for i in found]


async def test_clearing_after_close_is_refused_and_the_jobs_are_kept_for_the_next_start(
    make_queue: MakeQueue,
) -> None:
    queue, waiting = await closed_with_one_waiting(make_queue)

    with pytest.raises(QueueClosedError):
        await queue.clear(by="admin")
    found, _ = await start_and_drain(await make_queue(start=False))
    assert (waiting.info.job_id, JobStatus.QUEUED) in [(i.job_id, i.status) for i in found]


class SlowStepGenerator(FakeGenerator):
    """A step that outlasts the shutdown grace: the thread holds after step 1 until `step_done` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.step_done = threading.Event()

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        def progress(step: int, total: int) -> None:
            if on_progress is not None:
                on_progress(step, total)
            self.step_done.wait(timeout=20)  # the bound only frees the thread if the test goes wrong

        return super().generate(requests, progress, cancel)


class EndStepOnInterrupt(logging.Handler):
    """Lets the slow step end once shutdown interrupts the call, so the interruption is what it meets."""

    def __init__(self, generator: SlowStepGenerator) -> None:
        super().__init__()
        self._generator = generator

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("shutdown: interrupting"):
            self._generator.step_done.set()


async def test_a_job_cancelled_before_a_shutdown_interrupts_its_call_ends_cancelled_not_requeued(
    make_queue: MakeQueue,
) -> None:
    generator = SlowStepGenerator()
    queue = await make_queue(generator, shutdown_grace_s=0.0)
    running = await queue.submit(spec("ann", steps=5))
    await first(running, JobProgress)
    await queue.cancel(running.info.job_id, by="ann")  # stops at the next step, which is slow
    handler = EndStepOnInterrupt(generator)
    logging.getLogger("generation.queue.local").addHandler(handler)
    try:
        await queue.close()
    finally:
        logging.getLogger("generation.queue.local").removeHandler(handler)
        generator.step_done.set()

    assert (await events_of(running))[-1] == JobCancelled(running.info.job_id, by="ann")
    again = await make_queue(start=False)
    found = await again.start()
    assert (running.info.job_id, JobStatus.QUEUED) not in [(i.job_id, i.status) for i in found]
    assert (await again.get(running.info.job_id)).status is JobStatus.CANCELLED
