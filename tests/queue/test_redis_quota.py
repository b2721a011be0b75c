"""Daily quotas in Redis: shared by every bot process, kept in bounded keys, and sound whatever Redis holds.

The specifications both backends meet are in `test_quota.py`; these are about what only Redis has:
several bot processes counting against one quota at once, the `quota:{key}` sorted set's lifetime,
contents nobody's script wrote (a key of another type, members scored in the future, a job record
whose allowance was rewritten), a Redis at its memory limit, and one restarted without its data.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from generation.errors import DamagedJobError, QueueBusyError, QuotaExceededError
from generation.queue.allowance import DAY_S, QuotaUsage
from generation.queue.interface import JobFailed
from generation.queue.reasons import LOST_IN_REDIS
from generation.queue.redis.queue import RedisJobQueue
from tests.fakes.clock import FakeClock
from tests.fixtures.redis_server import RedisServer
from tests.patience import PATIENCE_S
from tests.queue import test_redis_lost, test_redis_only, test_redis_writes
from tests.queue.test_quota import START, allowance, limited
from tests.queue.test_redis_lost import TICK_S, last_event, ticking_bot
from tests.queue.test_redis_only import Cluster, bot_client

cluster = test_redis_only.cluster  # the Redis-only specifications' fixtures, here too
server = test_redis_writes.server
fleet = test_redis_writes.fleet
forgetful = test_redis_lost.forgetful

ANN_QUOTA = "quota:g1:ann"


@pytest.fixture
def clock() -> FakeClock:
    """The scripts' time, from 13:00 UTC on a known day (as in `test_quota`)."""
    return FakeClock(start=START)


async def submissions(bot: RedisJobQueue, count: int, quota: int) -> list[object]:
    """`count` concurrent submissions of ann's under `quota`; each a handle or the error it raised."""
    return list(
        await asyncio.gather(
            *(bot.submit(limited("ann", quota, max_held=20)) for _ in range(count)), return_exceptions=True
        )
    )


async def test_two_bot_processes_submitting_at_once_get_exactly_the_videos_left_between_them(
    cluster: Cluster,
) -> None:
    one, two = await cluster.bot(origin="one"), await cluster.bot(origin="two")

    outcomes = [*await asyncio.gather(submissions(one, 6, 4), submissions(two, 6, 4))]

    flat = [outcome for answers in outcomes for outcome in answers]
    assert sum(not isinstance(outcome, BaseException) for outcome in flat) == 4
    assert sum(isinstance(outcome, QuotaExceededError) for outcome in flat) == 8
    assert (await one.quota_usage(allowance("ann", 4))).used == 4
    assert (await two.quota_usage(allowance("ann", 4))).used == 4


async def test_a_quotas_record_expires_once_no_window_can_count_its_jobs(cluster: Cluster) -> None:
    bot = await cluster.bot()
    await bot.submit(limited("ann"))

    seconds = await bot_client(cluster).ttl(f"{cluster.prefix}{ANN_QUOTA}")

    assert DAY_S < seconds <= DAY_S + 3600


async def test_a_quota_key_of_another_type_counts_as_empty_and_is_replaced(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await cluster.bot()
    client = bot_client(cluster)
    await client.set(f"{cluster.prefix}{ANN_QUOTA}", "not a sorted set")

    assert await bot.quota_usage(allowance("ann", 1)) == QuotaUsage(0, 1, None)
    await bot.submit(limited("ann", 1))
    with pytest.raises(QuotaExceededError):
        await bot.submit(limited("ann", 1))

    assert await client.type(f"{cluster.prefix}{ANN_QUOTA}") == b"zset"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "quota record" in r.getMessage()]
    assert len(warnings) == 1


async def test_members_scored_in_the_future_count_for_nothing_and_are_dropped(cluster: Cluster) -> None:
    bot = await cluster.bot()
    client = bot_client(cluster)
    await client.zadd(f"{cluster.prefix}{ANN_QUOTA}", {"planted-1": START + 2 * DAY_S, "planted-2": 1e300})

    assert (await bot.quota_usage(allowance("ann", 1))).used == 0
    await bot.submit(limited("ann", 1))

    assert await client.zrange(f"{cluster.prefix}{ANN_QUOTA}", 0, -1) != []
    assert await client.zscore(f"{cluster.prefix}{ANN_QUOTA}", "planted-1") is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("allowance", "not json"),
        ("allowance", '{"quota_key":"g1:ann","daily_quota":-1,"reset_hour":null,"max_held":null,"weight":1}'),
        ("allowance", '{"quota_key":"g1:ann","daily_quota":2,"reset_hour":99,"max_held":null,"weight":1}'),
        ("allowance", '{"quota_key":"g1:ann"}'),
        ("quota", "g1:mallory"),
    ],
)
async def test_a_job_whose_stored_allowance_was_rewritten_is_reported_as_damaged(
    cluster: Cluster, field: str, value: str
) -> None:
    bot = await cluster.bot()
    handle = await bot.submit(limited("ann"))
    await bot_client(cluster).hset(f"{cluster.prefix}job:{handle.info.job_id}", field, value)

    with pytest.raises(DamagedJobError):
        await bot.get(handle.info.job_id)


async def test_a_submission_at_the_memory_limit_counts_nothing(fleet: test_redis_writes.Fleet, tmp_path: Path) -> None:
    bot = await fleet.bot()
    fillers = fleet.server.exhaust_memory()

    with pytest.raises(QueueBusyError):
        await bot.submit(limited("ann", 1))

    fleet.server.free_memory(fillers)
    assert (await bot.quota_usage(allowance("ann", 1))).used == 0
    await bot.submit(limited("ann", 1))


async def test_after_redis_restarted_empty_the_lost_jobs_count_nothing_and_keep_their_allowance(
    forgetful: tuple[RedisServer, Cluster],
) -> None:
    server, cluster = forgetful
    tick = FakeClock()
    bot = await ticking_bot(cluster, tick)
    handle = await bot.submit(limited("ann", 1))
    ending = asyncio.create_task(last_event(handle.events()))

    server.stop()
    server.restart()  # the same port, no data
    await tick.advance_past(TICK_S)

    assert await asyncio.wait_for(ending, PATIENCE_S) == JobFailed(handle.info.job_id, LOST_IN_REDIS)
    assert (await bot.get(handle.info.job_id)).spec.allowance == allowance("ann", 1)
    assert (await bot.quota_usage(allowance("ann", 1))).used == 0
    await bot.submit(limited("ann", 1))
