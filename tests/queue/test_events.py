"""Event streams: every subscriber hears everything in order, and a slow one never holds the worker up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from generation.errors import SubscriberLagged
from generation.queue.events import EventHub, JobEventLog
from generation.queue.interface import JobEvent, JobProgress, JobQueued


def progress(step: int) -> JobProgress:
    return JobProgress("job", step, 10, elapsed_s=0.1 * step)


async def drain(stream: AsyncIterator[JobEvent]) -> list[JobEvent]:
    return [event async for event in stream]


async def test_every_subscriber_gets_every_event_in_order() -> None:
    hub = EventHub(buffer_size=100)
    first, second = hub.subscribe(), hub.subscribe()

    for step in range(1, 6):
        hub.publish(progress(step))
    hub.close()

    assert await drain(first) == await drain(second) == [progress(s) for s in range(1, 6)]


async def test_a_subscriber_only_hears_events_published_after_it_subscribed() -> None:
    hub = EventHub(buffer_size=100)
    hub.publish(progress(1))
    late = hub.subscribe()
    hub.publish(progress(2))
    hub.close()

    assert await drain(late) == [progress(2)]


async def test_a_lagging_subscriber_is_cut_off_after_what_it_buffered_others_keep_going() -> None:
    hub = EventHub(buffer_size=3)
    slow, fast = hub.subscribe(), hub.subscribe()
    fast_seen = []

    for step in range(1, 6):
        hub.publish(progress(step))
        fast_seen.append(await anext(fast))

    assert fast_seen == [progress(s) for s in range(1, 6)]
    assert [await anext(slow) for _ in range(3)] == [progress(s) for s in range(1, 4)]
    with pytest.raises(SubscriberLagged, match="more than 3 events behind"):
        await anext(slow)


async def test_subscribing_after_close_gives_an_empty_stream() -> None:
    hub = EventHub(buffer_size=10)
    hub.close()

    assert await drain(hub.subscribe()) == []


async def test_a_job_log_replays_from_the_start_for_every_reader_and_ends_when_closed() -> None:
    log = JobEventLog()
    log.append(JobQueued("job", position=1, eta_s=None))
    early = log.stream()
    log.append(progress(1))
    log.close()
    log.append(progress(2))  # after close: ignored

    expected = [JobQueued("job", position=1, eta_s=None), progress(1)]
    assert await drain(early) == expected
    assert await drain(log.stream()) == expected


async def test_a_job_log_reader_waits_for_new_events() -> None:
    log = JobEventLog()
    reader = asyncio.create_task(drain(log.stream()))
    await asyncio.sleep(0)

    log.append(progress(1))
    log.close()

    assert await reader == [progress(1)]


async def test_a_job_log_reader_that_is_cancelled_does_not_end_the_other_readers() -> None:
    log = JobEventLog()
    abandoned = asyncio.create_task(drain(log.stream()))
    staying = asyncio.create_task(drain(log.stream()))
    await asyncio.sleep(0)

    abandoned.cancel()  # what `asyncio.wait_for` does to a reader that times out
    await asyncio.gather(abandoned, return_exceptions=True)
    log.append(progress(1))
    log.close()

    assert await staying == [progress(1)]


async def test_a_reader_cancelled_just_before_an_event_arrives_ends_cleanly_and_the_others_get_it() -> None:
    log = JobEventLog()
    abandoned = asyncio.create_task(drain(log.stream()))
    staying = asyncio.create_task(drain(log.stream()))
    await asyncio.sleep(0)

    abandoned.cancel()
    log.append(progress(1))  # before the cancelled reader has run again
    log.close()

    await asyncio.gather(abandoned, return_exceptions=True)
    assert abandoned.cancelled()  # not ended by an error of its own
    assert await staying == [progress(1)]
