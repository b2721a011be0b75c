"""Cancelling, pausing, clearing and closing the local queue."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from generation.errors import QueueClosedError, QueuePausedError
from generation.process_generator import ProcessGenerator
from generation.protocol import CancelToken, ProgressCallback
from generation.queue.interface import (
    JobCancelled,
    JobFinished,
    JobHandle,
    JobProgress,
    JobQueued,
    JobStatus,
    Person,
)
from generation.queue.local import LocalJobQueue
from generation.request import VideoRequest
from generation.results import GeneratedClip
from tests.fakes.clock import FakeClock
from tests.fakes.gate import Gate
from tests.fakes.generator import FakeGenerator
from tests.patience import PATIENCE_S
from tests.queue.conftest import MakeQueue, events_of, spec, start_and_drain


async def test_cancelling_a_waiting_job_removes_it_and_moves_the_line_up(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator)
    await queue.submit(spec("ann"))
    await generator.steps.arrived(1)  # ann's job runs
    doomed = await queue.submit(spec("bob"))
    behind = await queue.submit(spec("cat"))

    info = await doomed.cancel(by=Person("bob"))

    assert (info.status, info.cancelled_by) == (JobStatus.CANCELLED, Person("bob"))
    assert (await events_of(doomed))[-1] == JobCancelled(doomed.info.job_id, by=Person("bob"))
    generator.steps.open()
    moves = [e.position for e in await events_of(behind) if isinstance(e, JobQueued)]
    assert moves == [2, 1]
    assert (await queue.get(doomed.info.job_id)).status is JobStatus.CANCELLED


async def test_cancelling_a_running_job_stops_it_at_the_next_step(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator)
    running = await queue.submit(spec("ann", steps=5))
    following = await queue.submit(spec("bob"))
    generator.steps.release(2)
    await generator.steps.arrived(3)  # steps 1 and 2 are done, step 3 is held

    info = await queue.cancel(running.info.job_id, by=Person("mod"))

    assert (info.status, info.cancelled_by) == (JobStatus.RUNNING, Person("mod"))  # stops at the next step
    events = await events_of(running)
    assert events[-1] == JobCancelled(running.info.job_id, by=Person("mod"))
    assert [e.step for e in events if isinstance(e, JobProgress)] == [1, 2]
    assert generator.steps.passed == 2  # the held step never ran
    generator.steps.open()
    assert isinstance((await events_of(following))[-1], JobFinished)
    assert (await queue.get(running.info.job_id)).status is JobStatus.CANCELLED


async def test_cancelling_an_ended_job_changes_nothing(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    handle = await queue.submit(spec("ann"))
    await events_of(handle)

    info = await handle.cancel(by=Person("ann"))

    assert (info.status, info.cancelled_by) == (JobStatus.SUCCEEDED, None)


async def test_paused_queue_starts_nothing_and_refuses_jobs_until_resumed(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator)
    running = await queue.submit(spec("ann"))
    waiting = await queue.submit(spec("bob"))
    await generator.steps.arrived(1)

    await queue.pause()
    generator.steps.open()
    # The worker looks at the line as soon as ann's run ends, before her end is announced.
    await events_of(running)

    assert (await queue.get(waiting.info.job_id)).status is JobStatus.QUEUED
    assert (await queue.stats()).paused
    with pytest.raises(QueuePausedError):
        await queue.submit(spec("cat"))
    await queue.resume()
    assert isinstance((await events_of(waiting))[-1], JobFinished)


async def test_clear_cancels_every_waiting_job_but_not_the_running_one(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator)
    running = await queue.submit(spec("ann"))
    waiting = [await queue.submit(spec(owner)) for owner in ("bob", "cat", "ann")]
    await generator.steps.arrived(1)

    cleared = await queue.clear(by=Person("admin"))

    assert [i.job_id for i in cleared] == [h.info.job_id for h in waiting]
    assert {(i.status, i.cancelled_by) for i in cleared} == {(JobStatus.CANCELLED, Person("admin"))}
    generator.steps.open()
    assert isinstance((await events_of(running))[-1], JobFinished)
    assert (await queue.stats()).cancelled == 3


async def close_while_held(queue: LocalJobQueue, generator: FakeGenerator, clock: FakeClock) -> None:
    """Close `queue` while its call is held, and let the call finish within the shutdown grace."""
    closing = asyncio.gather(queue.close(), queue.close())  # closing twice is closing once
    await clock.wait_for_sleepers(2)  # the call's watchdog, and close() waiting out the grace
    assert not closing.done()
    generator.steps.open()
    await closing


async def test_close_lets_the_running_job_finish_and_keeps_the_rest(make_queue: MakeQueue, clock: FakeClock) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator)
    running = await queue.submit(spec("ann"))
    await generator.steps.arrived(1)  # ann's job runs before bob's is queued, so his place never changes
    waiting = await queue.submit(spec("bob"))

    await close_while_held(queue, generator, clock)

    assert isinstance((await events_of(running))[-1], JobFinished)
    assert [type(e) for e in await events_of(waiting)] == [JobQueued]  # the stream ends, job kept
    _, events = await start_and_drain(await make_queue(start=False))
    assert JobFinished in {type(e) for e in events if e.job_id == waiting.info.job_id}


async def test_close_past_the_grace_period_puts_the_running_job_back_without_a_crash(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator, shutdown_grace_s=60.0)
    running = await queue.submit(spec("ann", steps=5))
    await generator.steps.arrived(1)

    closing = asyncio.ensure_future(queue.close())
    await clock.wait_for_sleepers(2)  # the call's watchdog, and close() waiting out the grace
    clock.advance(60.0)
    await closing

    assert generator.steps.passed == 0  # interrupted where it was held
    assert not any(isinstance(e, JobFinished | JobCancelled) for e in await events_of(running))
    # One allowed attempt: had the interruption counted as a crash, the job would now be failed.
    again = await make_queue(job_max_attempts=1, start=False)
    found, events = await start_and_drain(again)
    assert [(i.job_id, i.status) for i in found] == [(running.info.job_id, JobStatus.QUEUED)]
    assert isinstance(events[-1], JobFinished)
    assert (await again.get(running.info.job_id)).attempts == 2


async def closed_with_one_waiting(make_queue: MakeQueue, clock: FakeClock) -> tuple[LocalJobQueue, JobHandle]:
    """A queue closed while ann's job ran and bob's waited; returns it and bob's job."""
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator)
    await queue.submit(spec("ann"))
    waiting = await queue.submit(spec("bob"))
    await generator.steps.arrived(1)
    await close_while_held(queue, generator, clock)
    return queue, waiting


async def test_cancelling_after_close_is_refused_and_the_job_is_kept_for_the_next_start(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    _, waiting = await closed_with_one_waiting(make_queue, clock)

    with pytest.raises(QueueClosedError):
        await waiting.cancel(by=Person("bob"))
    found, _ = await start_and_drain(await make_queue(start=False))
    assert (waiting.info.job_id, JobStatus.QUEUED) in [(i.job_id, i.status) for i in found]


async def test_clearing_after_close_is_refused_and_the_jobs_are_kept_for_the_next_start(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    queue, waiting = await closed_with_one_waiting(make_queue, clock)

    with pytest.raises(QueueClosedError):
        await queue.clear(by=Person("admin"))
    found, _ = await start_and_drain(await make_queue(start=False))
    assert (waiting.info.job_id, JobStatus.QUEUED) in [(i.job_id, i.status) for i in found]


class DeafStepGenerator(FakeGenerator):
    """Its first step cannot be interrupted: after reporting it, the thread waits at `in_step`, deaf to
    its cancel token (as a GPU is in the middle of a step), until the test lets it on."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.in_step = Gate(held=True)

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        def progress(step: int, total: int) -> None:
            if on_progress is not None:
                on_progress(step, total)
            if step == 1:
                self.in_step.pass_through()

        return super().generate(requests, progress, cancel)


async def test_a_job_cancelled_before_a_shutdown_interrupts_its_call_ends_cancelled_not_requeued(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    generator = DeafStepGenerator()
    queue = await make_queue(generator, shutdown_grace_s=0.0)
    running = await queue.submit(spec("ann", steps=5))
    await generator.in_step.arrived(1)
    await queue.cancel(running.info.job_id, by=Person("ann"))  # stops at the next step, which is slow
    try:
        closing = asyncio.ensure_future(queue.close())
        # No grace: close() interrupts the call at once, then waits on the clock for it to stop.
        await clock.wait_for_sleepers(2)  # that wait, and the call's watchdog
        generator.in_step.open()  # the step ends and meets both the cancellation and the interruption
        await closing
    finally:
        generator.in_step.open()

    assert (await events_of(running))[-1] == JobCancelled(running.info.job_id, by=Person("ann"))
    again = await make_queue(start=False)
    found = await again.start()
    assert (running.info.job_id, JobStatus.QUEUED) not in [(i.job_id, i.status) for i in found]
    assert (await again.get(running.info.job_id)).status is JobStatus.CANCELLED


class DeafGenerator(FakeGenerator):
    """Never looks at its cancel token (a broken pipeline): nothing but the test's gates stops it."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.thread: threading.Thread | None = None  # the one that ran the last call

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        self.thread = threading.current_thread()
        return super().generate(requests, on_progress, cancel=None)


async def test_a_call_deaf_to_the_shutdown_is_abandoned_and_its_job_kept_for_the_next_start(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    generator = DeafGenerator(hold_steps=True)
    queue = await make_queue(generator, shutdown_grace_s=0.0)
    running = await queue.submit(spec("ann"))
    await generator.steps.arrived(1)
    try:
        closing = asyncio.ensure_future(queue.close())
        await clock.wait_for_sleepers(2)  # close() waiting for the interrupted call to stop, and the watchdog
        await clock.advance_to_next_sleeper()  # close() gives up first: the watchdog's deadline is later
        await closing
    finally:
        generator.steps.open()
    assert generator.thread is not None
    await asyncio.to_thread(generator.thread.join, 10)  # the queue's own thread: it exits after the call

    found, events = await start_and_drain(await make_queue(job_max_attempts=1, start=False))
    assert [(i.job_id, i.status) for i in found] == [(running.info.job_id, JobStatus.QUEUED)]
    assert isinstance(events[-1], JobFinished)


async def test_close_while_the_model_loads_in_the_gpu_process_stops_the_load_and_keeps_the_jobs(
    make_queue: MakeQueue,
) -> None:
    generator = ProcessGenerator(functools.partial(FakeGenerator, hold_load=True), max_batch_size=1)
    try:
        queue = await make_queue(generator, shutdown_grace_s=60.0)
        waiting = await queue.submit(spec("ann"))
        # Nothing of anyone's runs, so nothing is waited for: close() returns on a clock nobody moves.
        async with asyncio.timeout(PATIENCE_S):
            await queue.close()
    finally:
        generator.close()

    found, events = await start_and_drain(await make_queue(start=False))
    assert [(i.job_id, i.status) for i in found] == [(waiting.info.job_id, JobStatus.QUEUED)]
    assert isinstance(events[-1], JobFinished)
