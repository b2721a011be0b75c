"""What Redis holds, and for how long: every key of the queue has a bounded lifetime or a bounded size.

A whole MP4 stays in Redis only until its bot fetched it; a picture lives as long as its job; a dead
worker's record, a user's history and the events stream each have a limit. Lifetimes that run for
hours are checked as the TTL Redis holds (Redis, not a fake clock, counts them down).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis.asyncio as redis

from generation.queue.interface import JobFinished, Person
from generation.queue.redis.queue import PICTURE_UNSUBMITTED_TTL_S, RedisJobQueue
from generation.queue.redis.registry import GONE_KEPT_S
from generation.queue.redis.verbs import QueueVerbs, connect
from generation.queue.source import BatchLimits, Failed
from tests.fakes.generator import FakeGenerator
from tests.fakes.redis_queue import worker_host
from tests.queue import test_redis_only
from tests.queue.conftest import events_of, spec
from tests.queue.test_redis_only import LEASE_S, Cluster, bot_client, bot_picture, cluster_keys

cluster = test_redis_only.cluster  # the Redis-only specifications' fixture, here too

DONE_PER_USER_KEPT = 100  # in the Lua prelude
DONE_IDLE_TTL_S = 30 * 24 * 3600  # in the Lua prelude

BOUNDED = {
    # counters, per-owner tallies and the line: as large as the jobs waiting or running, or the users with some
    "sched", "held", "lines", "stamps", "served", "turns", "running", "stats", "paused",
    "events",  # MAXLEN ~ 100,000 and 24 h
    "eta",  # LTRIM to QUEUE_ETA_WINDOW
    "done",  # the last 10,000 ids
    "workers",  # names heard from in GONE_KEPT_S
    "open:bot",  # jobs whose outcome is owed
    "kept:bot", "pictures:bot",  # acknowledged jobs whose files wait for the retention sweep
    "cursor:bot",  # one entry id
}  # fmt: skip
"""The keys that may live without a TTL: each a structure whose size is bounded (see scripts.py)."""


async def ttl(cluster: Cluster, key: str) -> int:
    """The key's TTL in seconds (-1: none, -2: no such key)."""
    seconds: int = await bot_client(cluster).ttl(f"{cluster.prefix}{key}")
    return seconds


async def test_a_delivered_video_is_gone_from_redis_once_the_bot_has_it_on_disk(cluster: Cluster) -> None:
    bot = await cluster.bot()
    await cluster.worker("gpu")

    finished = (await events_of(await bot.submit(spec("ann"))))[-1]

    assert isinstance(finished, JobFinished)
    assert finished.result.video.path.read_bytes()
    assert await cluster_keys(cluster, "video:*") == []


async def test_another_bots_video_is_left_in_redis_for_that_bot(cluster: Cluster) -> None:
    owner = await cluster.bot(origin="shard-1")
    other = await cluster.bot(origin="shard-2")
    other_hears = other.subscribe()
    await cluster.worker("gpu")

    handle = await owner.submit(spec("ann"))
    while not isinstance(event := await anext(other_hears), JobFinished):
        pass

    assert not event.result.video.path.exists()  # shard-2 fetched nothing
    assert isinstance((await events_of(handle))[-1], JobFinished)  # shard-1 still finds its video


class _GatedCommands(QueueVerbs):
    """The real commands, with `submit` held at a gate the test opens: the moment between the picture's
    write and the submission, where a bot that dies leaves the picture behind."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reached = asyncio.Event()
        self.gate = asyncio.Event()

    async def submit(self, job_id: str, fields: Mapping[str, str], **caps: int) -> dict[str, Any]:
        self.reached.set()
        await self.gate.wait()
        return await super().submit(job_id, fields, **caps)


async def test_a_picture_not_yet_submitted_expires_and_a_submitted_one_lives_as_long_as_its_job(
    cluster: Cluster, tmp_path: Path
) -> None:
    picture = bot_picture(cluster)
    commands = _GatedCommands(connect(cluster.url), prefix=cluster.prefix, lease_s=LEASE_S, test_clock=cluster.clock)
    bot = RedisJobQueue(
        cluster.settings, commands, connect(cluster.url, decode=False), output_dir=cluster.tmp_path / "bot-bot"
    )
    cluster.closers.append(bot.close)
    await bot.start()

    submitting = asyncio.create_task(bot.submit(spec("ann", image=str(picture))))
    await commands.reached.wait()
    [key] = await cluster_keys(cluster, "image:*")
    assert 0 < await bot_client(cluster).ttl(key) <= PICTURE_UNSUBMITTED_TTL_S  # orphaned, it goes by itself

    commands.gate.set()
    handle = await submitting
    assert await bot_client(cluster).ttl(key) == -1  # the job's now: it waits as long as the job does

    await bot.cancel(handle.info.job_id, Person("ann"))
    assert await cluster_keys(cluster, "image:*") == []


async def test_a_workers_record_expires_once_it_stops_heartbeating(cluster: Cluster) -> None:
    bot = await cluster.bot()
    await cluster.hand("dead")
    assert 0 < await ttl(cluster, "worker:dead") <= GONE_KEPT_S

    cluster.clock.advance(GONE_KEPT_S + 1)
    await cluster.hand("alive")  # its first heartbeat forgets the names silent that long

    members = await bot_client(cluster).zrange(f"{cluster.prefix}workers", 0, -1)
    assert members == [b"alive"]
    assert [worker.name for worker in (await bot.stats()).workers] == ["alive"]


async def test_a_stopped_workers_record_keeps_its_expiry(cluster: Cluster) -> None:
    _, stopping = worker_host(
        cluster.url, cluster.prefix, cluster.settings, cluster.engine, FakeGenerator(), cluster.clock, name="leaving"
    )
    await stopping.start()

    await stopping.close()

    assert await bot_client(cluster).hget(f"{cluster.prefix}worker:leaving", "state") == b"stopped"
    assert 0 < await ttl(cluster, "worker:leaving") <= GONE_KEPT_S


async def test_a_users_history_keeps_their_latest_jobs_and_expires_when_they_stop_asking(cluster: Cluster) -> None:
    bot = await cluster.bot()
    ids = []
    for _ in range(DONE_PER_USER_KEPT + 5):
        handle = await bot.submit(spec("ann"))
        await bot.cancel(handle.info.job_id, Person("ann"))
        ids.append(handle.info.job_id)

    kept = await bot_client(cluster).zrange(f"{cluster.prefix}done:ann", 0, -1)
    assert [job_id.decode() for job_id in kept] == ids[-DONE_PER_USER_KEPT:]
    assert 0 < await ttl(cluster, "done:ann") <= DONE_IDLE_TTL_S
    assert [info.job_id for info in await bot.history("ann", limit=3)] == ids[:-4:-1]


async def test_the_events_stream_forgets_entries_older_than_a_day(cluster: Cluster) -> None:
    client = bot_client(cluster)
    await client.xadd(f"{cluster.prefix}events", {"job": "ancient", "kind": "progress"}, id="1000-0")
    bot = await cluster.bot()

    await bot.submit(spec("ann"))

    entries = await client.xrange(f"{cluster.prefix}events")
    assert entries
    assert all(entry_id != b"1000-0" for entry_id, _ in entries)


async def test_after_jobs_ran_every_key_expires_or_is_a_bounded_structure(cluster: Cluster, tmp_path: Path) -> None:
    picture = bot_picture(cluster)
    bot = await cluster.bot(video_retention_h=24.0)
    await cluster.worker("gpu")
    handles = [
        await bot.submit(spec("ann")),
        await bot.submit(spec("bob", image=str(picture))),
        await bot.submit(spec("cat", steps=1)),
    ]
    for handle in handles:
        await events_of(handle)
    waiting = await bot.submit(spec("dan"))
    await bot.cancel(waiting.info.job_id, Person("dan"))
    for handle in [*handles, waiting]:
        await bot.acknowledge(handle.info.job_id)

    persistent = await keys_without_ttl(bot_client(cluster), cluster.prefix)

    assert persistent <= BOUNDED, persistent - BOUNDED


async def test_a_failed_job_leaves_no_key_without_a_bound(cluster: Cluster) -> None:
    bot = await cluster.bot()
    hand = await cluster.hand("hand")
    handle = await bot.submit(spec("ann"))
    [taken] = await hand.take(BatchLimits(1)) or []
    await hand.begin([taken.job_id])
    await hand.end(taken.job_id, Failed("it broke"))
    await bot.acknowledge(handle.info.job_id)

    persistent = await keys_without_ttl(bot_client(cluster), cluster.prefix)

    assert persistent <= BOUNDED, persistent - BOUNDED


async def keys_without_ttl(client: redis.Redis, prefix: str) -> set[str]:
    """The keys under `prefix` (prefix left out) that never expire."""
    found = set()
    async for key in client.scan_iter(f"{prefix}*"):
        if await client.ttl(key) == -1:
            found.add(key.decode().removeprefix(prefix))
    return found
