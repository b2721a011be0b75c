"""`JobQueue.watch`: one event path for every job, submitted here or found at start-up."""

from __future__ import annotations

import pytest

from generation.config import EngineSettings
from generation.errors import JobNotFoundError
from generation.queue.gpu import mp4_encoder
from generation.queue.interface import JobFinished, JobProgress, JobQueued, JobStarted, JobStatus
from tests.fakes.generator import FakeGenerator
from tests.queue.conftest import MakeQueue, events_of, spec


async def test_every_watcher_of_a_job_gets_its_whole_story_from_the_submission(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    handle = await queue.submit(spec("ann", steps=2))
    early = queue.watch(handle.info.job_id)
    ended = await events_of(handle)

    late = [event async for event in queue.watch(handle.info.job_id)]

    assert [type(event) for event in ended] == [JobQueued, JobStarted, JobProgress, JobProgress, JobFinished]
    assert late == ended
    assert [event async for event in early] == ended


@pytest.mark.local_only  # with Redis the job never left the queue: its story is whole (test_redis_only)
async def test_a_job_found_at_start_up_is_watched_like_a_new_one(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    first = await make_queue(generator, shutdown_grace_s=0)
    await first.submit(spec("bob", "ahead"))
    await generator.steps.arrived(1)
    waiting = await first.submit(spec("ann"))
    await first.close()  # bob's job was running, ann's waiting: both are kept for the next start

    again = await make_queue(start=False)
    found = await again.start()

    assert waiting.info.job_id in [info.job_id for info in found]
    events = [event async for event in again.watch(waiting.info.job_id)]
    assert events[0] == JobQueued(waiting.info.job_id, 2, events[0].eta_s, recovered=True)  # type: ignore[union-attr]
    assert isinstance(events[-1], JobFinished)


async def test_a_job_that_ended_before_a_restart_without_being_shown_yields_only_its_outcome(
    make_queue: MakeQueue, engine_settings: EngineSettings
) -> None:
    first = await make_queue(encoder=mp4_encoder(engine_settings))  # a real MP4, which the outcome reads back
    handle = await first.submit(spec("ann"))
    await events_of(handle)  # finished, never acknowledged
    await first.close()

    again = await make_queue(start=False)
    [found] = await again.start()

    assert found.status is JobStatus.SUCCEEDED
    [only] = [event async for event in again.watch(found.job_id)]
    assert isinstance(only, JobFinished)
    assert only.result.video.path.exists()


async def test_watching_a_job_nobody_knows_is_refused(make_queue: MakeQueue) -> None:
    queue = await make_queue()

    with pytest.raises(JobNotFoundError):
        [event async for event in queue.watch("nope")]
