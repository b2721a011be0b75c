"""A deep line costs Redis no more per verb than a short one, and places are told as `scripts.py` says:
the near line at once, the places past it coalesced.

How long a script runs is the benchmark's to show (`bench/redis_depth_bench.py`, SLOWLOG figures in
docs/performance.md), not a test's: SLOWLOG times the server's own work, but on a busy 2-core host a
script that runs 3 ms is logged at 20 ms and more whenever the server is descheduled mid-script (seen
here for a single HGET). What does not depend on the machine is how much work a verb does: the number
of Redis commands it runs (INFO commandstats, counting those run inside scripts), each of which reads
a bounded slice (one owner's line, at most 200 places, a `log n` step in a sorted set). So the
specification is that one call of each verb runs no more commands at 10,000 waiting jobs than at 1,000.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from generation.queue.interface import JobQueued
from generation.queue.jobfiles import JOB_ID_LENGTH
from generation.queue.redis import scripts
from generation.queue.redis.prelude import NEAR_PLACES
from generation.queue.redis.queue import FAR_PLACES_EVERY_S
from generation.queue.settings import QueueSettings
from tests.fakes.clock import FakeClock
from tests.fakes.redis_queue import redis_queue
from tests.fixtures.redis_server import RedisServer
from tests.patience import PATIENCE_S
from tests.queue.lua_scripts import Scripts

SHAPE = json.dumps([64, 64])
SECONDS_PER_JOB = 6.0


def job(i: int) -> str:
    """The `i`th job's id, in the job-id format the bot checks what it reads from Redis against."""
    return f"{i:0{JOB_ID_LENGTH}x}"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[redis.Redis]:
    """A server of the test's own: INFO commandstats counts only what the test runs."""
    server = RedisServer.start(tmp_path / "redis")
    client = redis.Redis.from_url(server.url, decode_responses=True)
    yield client
    client.close()
    server.stop()


@pytest.fixture
def lua(redis_client: redis.Redis) -> Iterator[Scripts]:
    scripts_ = Scripts(redis_client)
    scripts_.now = 1_000.0
    yield scripts_
    scripts_.cleanup()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


def filled(client: redis.Redis, depth: int, users: int, model: str = "") -> Scripts:
    """`depth` waiting jobs for `model` under a new prefix, the i-th job user `i % users`'s; runs of 6 s
    recorded, and a worker serving the model."""
    lua = Scripts(client)
    lua.now = 1_000.0
    lua(scripts.LEARN, shape=SHAPE, cost="1.0", seconds=str(SECONDS_PER_JOB), after="0", window=20, model=model)
    lua(scripts.HEARTBEAT, worker="w", held={}, record={}, model=model, gone_s=3600)
    lua.fill([(job(i), f"user{i % users}", SHAPE) for i in range(depth)], model)
    return lua


def commands_run(client: redis.Redis, call: Callable[[], Any]) -> int:
    """How many Redis commands `call` ran, the ones inside scripts included."""

    def total() -> int:
        stats = client.info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_info",))

    before = total()
    call()
    return total() - before


def verbs(lua: Scripts, model: str = "") -> dict[str, Callable[[], Any]]:
    """One call of each verb on jobs for `model`, in an order that leaves each something to act on."""
    held: dict[str, Any] = {}
    line = lua.line()

    def take() -> None:
        held.update(lua(scripts.TAKE, worker="w", model=model, default=1, by_shape={}))

    def end() -> None:
        job = held["jobs"][0]["id"]
        lua(scripts.END, worker="w", token=held["token"], id=job, ending={"kind": "failed", "reason": "x"})

    def put_back() -> None:
        take()
        lua(scripts.PUT_BACK, token=held["token"], ids=[held["jobs"][0]["id"]])

    return {
        "submit (a new user)": lambda: lua.submit("new-user-job", "new-user", SHAPE, model),
        "submit (a user already waiting)": lambda: lua.submit("another", "user7", SHAPE, model),
        "take": take,
        "end": end,
        "put back": put_back,
        "cancel (the head)": lambda: lua(scripts.CANCEL, id=lua.line()[0], by="x"),
        "cancel (deep in line)": lambda: lua(scripts.CANCEL, id=line[len(line) // 2], by="x"),
        "view (100 deep jobs)": lambda: lua.places(line[-100:]),
        "list (1,000 places)": lambda: lua(scripts.ACTIVE, start=max(1, len(line) - 999), count=1000),
        "far places (200)": lambda: lua(scripts.FAR_PLACES, begin=True, start=0, count=200, every=0),
        "clear (200 from the end)": lambda: lua(scripts.CLEAR, by="x", count=200),
    }


@pytest.mark.parametrize("model", ["", "fast"], ids=["jobs naming no model", "jobs for one model"])
def test_no_verb_runs_more_redis_commands_at_10000_waiting_than_at_1000(private_redis: redis.Redis, model: str) -> None:
    shallow = filled(private_redis, 1_000, 300, model)
    deep = filled(private_redis, 10_000, 3_000, model)  # as many jobs per user: the same owner lines

    costs = {
        name: (commands_run(private_redis, shallow_call), commands_run(private_redis, deep_call))
        for (name, shallow_call), deep_call in zip(
            verbs(shallow, model).items(), verbs(deep, model).values(), strict=True
        )
    }

    grew = {name: cost for name, cost in costs.items() if cost[1] > cost[0] + 2}
    assert not grew, f"(commands at 1,000 waiting, at 10,000): {costs}"


def test_every_job_is_told_its_first_place_wherever_it_lands(lua: Scripts) -> None:
    depth = NEAR_PLACES + 30
    lua.fill([(job(i), f"user{i}", SHAPE) for i in range(depth)])

    first = [int(lua.queued_events(job(i))[0]["position"]) for i in range(depth)]

    assert first == list(range(1, depth + 1))


def test_a_take_tells_the_near_line_its_new_places_and_nobody_past_it(lua: Scripts) -> None:
    depth = NEAR_PLACES + 30
    lua.fill([(job(i), f"user{i}", SHAPE) for i in range(depth)])

    lua(scripts.TAKE, worker="w", default=1, by_shape={})

    told = [len(lua.queued_events(job(i))) for i in range(1, depth)]
    assert told == [2] * NEAR_PLACES + [1] * (depth - 1 - NEAR_PLACES)
    assert [lua.told(job(i)) for i in range(1, NEAR_PLACES + 1)] == list(range(1, NEAR_PLACES + 1))


def test_a_far_job_is_told_its_place_once_it_moved_by_a_tenth(lua: Scripts) -> None:
    depth = 2 * NEAR_PLACES
    lua.fill([(job(i), f"user{i}", SHAPE) for i in range(depth)])
    moved = 6
    for _ in range(moved):
        lua(scripts.TAKE, worker="w", default=1, by_shape={})

    lua(scripts.FAR_PLACES, begin=True, start=0, count=200, every=5.0)

    # Each far job moved up 6 places: told again where 6 is a tenth of its old place (60 or less).
    far = {job(i): i + 1 - moved for i in range(moved + NEAR_PLACES, depth)}
    told = {job_id: lua.told(job_id) for job_id in far}
    assert told == {job_id: place if place + moved <= 10 * moved else place + moved for job_id, place in far.items()}


def test_a_pass_of_far_places_begins_at_most_once_per_interval(lua: Scripts) -> None:
    depth, taken = 3 * NEAR_PLACES, 20
    lua.fill([(job(i), f"user{i}", SHAPE) for i in range(depth)])
    lua(scripts.FAR_PLACES, begin=True, start=0, count=200, every=5.0)
    for _ in range(taken):
        lua(scripts.TAKE, worker="w", default=1, by_shape={})
    lua.now = 1_004.0

    early = lua(scripts.FAR_PLACES, begin=True, start=0, count=200, every=5.0)
    lua.now = 1_005.0
    due = lua(scripts.FAR_PLACES, begin=True, start=0, count=200, every=5.0)

    # Each far job moved up 20 places, more than a tenth of where it was.
    assert (early["told"], due["told"]) == (0, depth - NEAR_PLACES - taken)


def test_a_deep_job_has_its_exact_place_and_an_eta_from_the_near_lines_pace(lua: Scripts) -> None:
    lua(scripts.LEARN, shape=SHAPE, cost="1.0", seconds=str(SECONDS_PER_JOB), after="0", window=20)
    depth = 3 * NEAR_PLACES
    lua.fill([(job(i), f"user{i % 7}", SHAPE) for i in range(depth)])
    line = lua.line()

    [deepest] = lua(scripts.VIEW, ids=[line[-1]])["jobs"]

    assert deepest["position"] == depth
    assert deepest["eta"] == pytest.approx(depth * SECONDS_PER_JOB)  # one shape: the pace is exact


async def test_the_bot_tells_far_jobs_their_places_on_its_tick(
    redis_server: RedisServer, redis_prefix: str, queue_settings: QueueSettings, clock: FakeClock, tmp_path: Path
) -> None:
    tick = FakeClock()
    bot = redis_queue(redis_server.url, redis_prefix, queue_settings, tmp_path, clock, tick_clock=tick)
    await bot.start()
    heard = bot.subscribe()
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    lua = Scripts(client, prefix=redis_prefix)
    depth, taken = 2 * NEAR_PLACES, 10
    lua.fill([(job(i), f"user{i}", SHAPE) for i in range(depth)])
    for _ in range(taken):
        lua(scripts.TAKE, worker="w", default=1, by_shape={})

    await tick.advance_past(FAR_PLACES_EVERY_S)

    last = job(depth - 1)
    async with asyncio.timeout(PATIENCE_S):
        async for event in heard:
            if event == JobQueued(last, depth - taken, None):
                break
    await bot.close()
    client.close()


async def test_a_line_written_before_the_order_index_is_indexed_when_the_bot_starts(
    redis_server: RedisServer, redis_prefix: str, queue_settings: QueueSettings, clock: FakeClock, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    lua = Scripts(client, prefix=redis_prefix)
    lua.fill([(job(i), f"user{i % 7}", SHAPE) for i in range(30)])
    for _ in range(3):
        lua(scripts.TAKE, worker="w", default=1, by_shape={})
    line = lua.line()
    client.delete(f"{redis_prefix}order")  # as an older version left it: the lines, and no index
    bot = redis_queue(redis_server.url, redis_prefix, queue_settings, tmp_path, clock)

    await bot.start()

    assert lua.line() == line
    assert [job["id"] for job in lua(scripts.TAKE, worker="w", default=1, by_shape={})["jobs"]] == line[:1]
    await bot.close()
    client.close()
