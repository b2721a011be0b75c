"""Redis restarted without its data (no AOF, a new instance): nobody is left waiting for good.

A private `redis-server` without AOF is stopped and started again on its port, empty, while jobs wait
and run. The bot's tick runs on a clock of the test's: one interval after Redis is back, every job it
owed has ended as lost, through the events its users' messages follow; the worker that ran one finds
at its next heartbeat that it holds nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from generation.config import EngineSettings
from generation.queue.interface import JobEvent, JobFailed, JobStatus
from generation.queue.reasons import LOST_IN_REDIS
from generation.queue.redis.queue import RedisJobQueue
from generation.queue.settings import QueueSettings
from generation.queue.source import BatchLimits
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FakeGenerator
from tests.fakes.redis_queue import redis_queue, worker_host
from tests.fixtures.redis_server import RedisServer
from tests.patience import PATIENCE_S
from tests.queue.conftest import spec, stub_encoder
from tests.queue.test_redis_only import LEASE_S, Cluster

log = logging.getLogger(__name__)

TICK_S = LEASE_S / 3


@pytest.fixture
async def forgetful(
    tmp_path: Path, queue_settings: QueueSettings, engine_settings: EngineSettings, clock: FakeClock
) -> AsyncIterator[tuple[RedisServer, Cluster]]:
    """A Redis of this test's own, without AOF (a restart empties it), and a cluster on it."""
    server = RedisServer.start(tmp_path / "redis", appendonly=False)
    settings = queue_settings.model_copy(update={"queue_lease_s": LEASE_S})
    cluster = Cluster(server.url, "lost:", settings, engine_settings, clock, tmp_path)
    try:
        yield server, cluster
    finally:
        for close in reversed(cluster.closers):
            await close()
        server.stop()


async def ticking_bot(cluster: Cluster, tick: FakeClock) -> RedisJobQueue:
    """A bot whose tick runs when the test moves `tick`."""
    bot = redis_queue(
        cluster.url, cluster.prefix, cluster.settings, cluster.tmp_path / "bot", cluster.clock, tick_clock=tick
    )
    cluster.closers.append(bot.close)
    await bot.start()
    return bot


async def last_event(events: AsyncIterator[JobEvent]) -> JobEvent:
    """The terminal event of a job's stream."""
    seen = [event async for event in events]
    return seen[-1]


async def test_every_owed_job_ends_as_lost_within_one_tick_of_redis_coming_back_empty(
    forgetful: tuple[RedisServer, Cluster],
) -> None:
    server, cluster = forgetful
    tick = FakeClock()
    bot = await ticking_bot(cluster, tick)
    hand = await cluster.hand("gpu")
    running, *waiting = [await bot.submit(spec(owner)) for owner in ("ann", "bob", "cat")]
    [taken] = await hand.take(BatchLimits(1)) or []
    await hand.begin([taken.job_id])
    endings = [asyncio.create_task(last_event(handle.events())) for handle in (running, *waiting)]

    server.stop()
    server.restart()  # the same port, no data
    lost_at = time.monotonic()
    await tick.advance_past(TICK_S)
    ended = await asyncio.wait_for(asyncio.gather(*endings), PATIENCE_S)
    log.info("redis lost its data: %d users told %.3f s after it came back", len(ended), time.monotonic() - lost_at)

    assert ended == [JobFailed(handle.info.job_id, LOST_IN_REDIS) for handle in (running, *waiting)]


async def test_a_lost_job_keeps_its_request_so_it_can_be_rerolled(forgetful: tuple[RedisServer, Cluster]) -> None:
    server, cluster = forgetful
    tick = FakeClock()
    bot = await ticking_bot(cluster, tick)
    handle = await bot.submit(spec("ann", "a heron in the rain", steps=2))
    ending = asyncio.create_task(last_event(handle.events()))

    server.stop()
    server.restart()
    await tick.advance_past(TICK_S)
    await asyncio.wait_for(ending, PATIENCE_S)

    info = await bot.get(handle.info.job_id)
    assert (info.status, info.error) == (JobStatus.FAILED, LOST_IN_REDIS)
    assert info.spec == handle.info.spec


async def test_a_job_lost_by_redis_is_handed_back_to_a_restarted_bot_until_acknowledged(
    forgetful: tuple[RedisServer, Cluster],
) -> None:
    server, cluster = forgetful
    tick = FakeClock()
    bot = await ticking_bot(cluster, tick)
    handle = await bot.submit(spec("ann"))
    ending = asyncio.create_task(last_event(handle.events()))
    server.stop()
    server.restart()
    await tick.advance_past(TICK_S)
    await asyncio.wait_for(ending, PATIENCE_S)
    await bot.close()

    found = await (await cluster.bot(start=False)).start()

    assert [(info.job_id, info.error) for info in found] == [(handle.info.job_id, LOST_IN_REDIS)]


async def test_a_worker_drops_the_job_it_ran_when_redis_lost_it(forgetful: tuple[RedisServer, Cluster]) -> None:
    server, cluster = forgetful
    bot = await cluster.bot()
    hand = await cluster.hand("gpu")
    handle = await bot.submit(spec("ann"))
    [taken] = await hand.take(BatchLimits(1)) or []
    await hand.begin([taken.job_id])
    assert hand.wanted(handle.info.job_id)

    server.stop()
    server.restart()
    await hand.heartbeat()

    assert not hand.wanted(handle.info.job_id)


async def test_a_job_redis_still_has_is_left_alone(forgetful: tuple[RedisServer, Cluster]) -> None:
    _, cluster = forgetful
    bot = await cluster.bot()
    handle = await bot.submit(spec("ann"))

    await bot.tick()

    assert (await bot.get(handle.info.job_id)).status is JobStatus.QUEUED


async def test_a_worker_stops_the_call_redis_lost_and_takes_the_next_job(
    forgetful: tuple[RedisServer, Cluster],
) -> None:
    server, cluster = forgetful
    bot = await cluster.bot()
    generator = FakeGenerator(hold_steps=True, clock=cluster.clock)
    engine = cluster.engine.model_copy(update={"output_dir": cluster.tmp_path / "w"})
    host, source = worker_host(
        cluster.url, cluster.prefix, cluster.settings, engine, generator, cluster.clock, encoder=stub_encoder
    )
    cluster.closers.append(host.close)
    await host.start()
    await bot.submit(spec("ann"))
    await generator.steps.arrived(1)  # running, held at its first step

    server.stop()
    server.restart()
    await bot.submit(spec("bob"))
    await source.heartbeat()

    await generator.steps.arrived(2)  # the gate was never opened: the lost call stopped, bob's began
    generator.steps.open()  # bob's job ends, so the worker's close has no grace to wait out
