"""Redis owns the time: without a test clock, every time the scripts stamp or compare is Redis's own
(`TIME`), and so is the "now" the Python side judges liveness with, whatever this host's clock says."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from generation.queue.redis.codec import job_fields
from generation.queue.redis.registry import read_workers
from generation.queue.redis.verbs import QueueVerbs, connect
from tests.fixtures.redis_server import RedisServer
from tests.queue.conftest import spec

LEASE_S = 30.0


@pytest.fixture
async def commands(redis_server: RedisServer, redis_prefix: str) -> AsyncIterator[QueueVerbs]:
    """The scripts as production calls them: no clock handed in."""
    made = QueueVerbs(connect(redis_server.url), prefix=redis_prefix, lease_s=LEASE_S)
    yield made
    await made.client.aclose()


async def redis_now(commands: QueueVerbs) -> float:
    seconds, micros = await commands.client.time()
    return seconds + micros / 1e6


async def test_a_submission_is_stamped_on_redis_clock(commands: QueueVerbs) -> None:
    before = await redis_now(commands)
    answer = await commands.submit("j1", job_fields("j1", spec("ann"), "bot"), max_jobs=10, max_per_user=10)
    after = await redis_now(commands)

    assert before <= float(answer["job"]["submitted_at"]) <= after


async def test_a_lease_runs_one_lease_past_redis_clock(commands: QueueVerbs) -> None:
    await commands.submit("j1", job_fields("j1", spec("ann"), "bot"), max_jobs=10, max_per_user=10)
    before = await redis_now(commands)
    await commands.take("w1", "", 1, {}, "request-1")
    after = await redis_now(commands)

    [(_, deadline)] = await commands.client.zrange(commands.key("running"), 0, -1, withscores=True)
    assert before + LEASE_S <= deadline <= after + LEASE_S


async def test_a_heartbeat_is_judged_alive_on_redis_clock(commands: QueueVerbs) -> None:
    await commands.heartbeat("w1", {}, {"state": "running"})

    [worker] = await read_workers(commands.client, commands.prefix, await commands.now(), LEASE_S)

    assert worker.alive
    assert abs(worker.last_heartbeat - await redis_now(commands)) < LEASE_S
