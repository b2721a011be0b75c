"""Outcomes the consumer never acknowledged come back at the next start, so a restart loses no video."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from generation.config import EngineSettings
from generation.errors import JobNotFoundError
from generation.queue.gpu import mp4_encoder
from generation.queue.interface import JobCancelled, JobFailed, JobFinished, JobStatus, Person
from generation.queue.reasons import LOST_VIDEO
from generation.queue.settings import QueueSettings
from generation.queue.store import JobStore
from tests.fakes.generator import FakeGenerator
from tests.queue.conftest import MakeQueue, first, spec


async def test_an_outcome_never_acknowledged_is_handed_back_at_the_next_start(make_queue: MakeQueue) -> None:
    before = await make_queue()
    handle = await before.submit(spec("ann", "delivery cut short"))
    await first(handle, JobFinished)
    await before.close()

    found = await (await make_queue(start=False)).start()

    assert [(info.job_id, info.status) for info in found] == [(handle.info.job_id, JobStatus.SUCCEEDED)]


async def test_an_acknowledged_outcome_is_not_handed_back(make_queue: MakeQueue) -> None:
    before = await make_queue()
    handle = await before.submit(spec("ann", "delivered"))
    await first(handle, JobFinished)
    await before.acknowledge(handle.info.job_id)
    await before.close()

    assert await (await make_queue(start=False)).start() == []


async def test_acknowledging_an_unknown_job_is_refused(make_queue: MakeQueue) -> None:
    queue = await make_queue()

    with pytest.raises(JobNotFoundError):
        await queue.acknowledge("no-such-job")


async def test_the_outcome_of_a_success_is_its_video_read_back_from_disk(
    make_queue: MakeQueue, engine_settings: EngineSettings
) -> None:
    queue = await make_queue(encoder=mp4_encoder(engine_settings))
    finished = await first(await queue.submit(spec("ann", "kept")), JobFinished)

    rebuilt = await queue.outcome(finished.job_id)

    assert rebuilt == finished


@pytest.mark.local_only  # with Redis the bot fetches the video again (see test_redis_only)
async def test_the_outcome_of_a_success_whose_video_is_gone_is_a_failure_the_user_can_read(
    make_queue: MakeQueue, engine_settings: EngineSettings
) -> None:
    queue = await make_queue(encoder=mp4_encoder(engine_settings))
    finished = await first(await queue.submit(spec("ann", "swept away")), JobFinished)
    finished.result.video.path.unlink()

    assert await queue.outcome(finished.job_id) == JobFailed(finished.job_id, LOST_VIDEO)


async def test_the_outcome_of_a_failure_keeps_its_reason(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    failed = await first(await queue.submit(spec("ann", "FAIL now")), JobFailed)

    assert await queue.outcome(failed.job_id) == failed


async def test_the_outcome_of_a_cancellation_keeps_who_cancelled(make_queue: MakeQueue) -> None:
    queue = await make_queue(FakeGenerator(hold_steps=True))  # bob's job never ends
    await queue.submit(spec("bob", "ahead in line"))
    handle = await queue.submit(spec("ann"))
    await handle.cancel(by=Person("ann"))

    assert await queue.outcome(handle.info.job_id) == JobCancelled(handle.info.job_id, Person("ann"))


async def test_a_job_still_in_line_has_no_outcome(make_queue: MakeQueue) -> None:
    queue = await make_queue(FakeGenerator(hold_steps=True))  # bob's job never ends
    await queue.submit(spec("bob", "ahead in line"))
    handle = await queue.submit(spec("ann"))

    with pytest.raises(ValueError, match="has not ended"):
        await queue.outcome(handle.info.job_id)


@pytest.mark.local_only  # about the SQLite schema
async def test_a_database_from_before_acknowledgements_does_not_hand_back_its_history(
    make_queue: MakeQueue, queue_settings: QueueSettings
) -> None:
    before = await make_queue()
    await first(await before.submit(spec("ann", "delivered long ago")), JobFinished)
    await before.close()
    with sqlite3.connect(queue_settings.database_path) as conn:  # as such a file is: from before versions too
        conn.execute("ALTER TABLE jobs DROP COLUMN acknowledged_at")
        conn.execute("ALTER TABLE jobs DROP COLUMN allowance")
        conn.execute("DROP TABLE schema_versions")

    assert await (await make_queue(start=False)).start() == []


async def test_an_acknowledgement_after_the_queue_closed_still_counts(make_queue: MakeQueue) -> None:
    before = await make_queue()
    handle = await before.submit(spec("ann", "shown during shutdown"))
    await first(handle, JobFinished)
    await before.close()

    await before.acknowledge(handle.info.job_id)

    assert await (await make_queue(start=False)).start() == []


async def test_a_lookup_handed_to_the_store_as_it_closes_still_answers(queue_settings: QueueSettings) -> None:
    store = JobStore(queue_settings.database_path)
    await store.open()

    lookup = asyncio.ensure_future(store.get("no-such-job"))
    closing = asyncio.ensure_future(store.close())

    assert await lookup is None
    await closing
