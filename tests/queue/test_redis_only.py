"""What only the Redis backend promises: leases, fencing, remote cancels, shared caps, saved cursors, AOF.

Workers here are driven by hand through their `RedisJobSource` (take, begin, end) where a spec is
about what a worker does, and run as a `WorkerHost` where it is about what happens to a job. A worker
"dies" by going silent: its tick clock is never moved, so it never heartbeats, and the test moves the
queue's clock past its lease. Nothing waits on real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from generation.config import EngineSettings
from generation.errors import InvalidRequestError, UserQueueLimitError
from generation.extend import MAX_SOURCE_BYTES
from generation.queue.interface import (
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobProgress,
    JobQueued,
    JobStarted,
    JobStatus,
    Person,
)
from generation.queue.reasons import LOST_VIDEO
from generation.queue.redis.host import WorkerHost
from generation.queue.redis.queue import RedisJobQueue
from generation.queue.redis.source import PICTURE_GONE, VIDEO_GONE, RedisJobSource
from generation.queue.redis.verbs import QueueVerbs, connect
from generation.queue.settings import QueueSettings
from generation.queue.source import BatchLimits, Cancelled, Failed
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FakeGenerator
from tests.fakes.redis_queue import redis_queue, worker_host
from tests.fixtures.redis_server import RedisServer
from tests.queue.conftest import events_of, spec, stub_encoder

LEASE_S = 30.0


@dataclass
class Cluster:
    """Bots and workers on one Redis (one key prefix), all closed after the test."""

    url: str
    prefix: str
    settings: QueueSettings
    engine: EngineSettings
    clock: FakeClock
    tmp_path: Path
    closers: list[Callable[[], Any]] = field(default_factory=list)

    async def bot(self, *, origin: str = "bot", start: bool = True, **settings: Any) -> RedisJobQueue:
        """A bot process's queue."""
        queue = redis_queue(
            self.url, self.prefix, self.settings.model_copy(update=settings), self.tmp_path / f"bot-{origin}",
            self.clock, origin=origin,
        )  # fmt: skip
        self.closers.append(queue.close)
        if start:
            await queue.start()
        return queue

    async def worker(self, name: str, generator: FakeGenerator | None = None) -> WorkerHost:
        """A running worker."""
        host, _ = worker_host(
            self.url, self.prefix, self.settings, self.engine.model_copy(update={"output_dir": self.tmp_path / name}),
            generator or FakeGenerator(clock=self.clock), self.clock, name=name, encoder=stub_encoder,
        )  # fmt: skip
        self.closers.append(host.close)
        await host.start()
        return host

    async def hand(self, name: str) -> RedisJobSource:
        """A worker driven by hand, through its source."""
        _, source = worker_host(
            self.url, self.prefix, self.settings, self.engine, FakeGenerator(), self.clock, name=name,
        )  # fmt: skip
        self.closers.append(source.close)
        await source.start()
        return source


@pytest.fixture
async def cluster(
    redis_server: RedisServer,
    redis_prefix: str,
    queue_settings: QueueSettings,
    engine_settings: EngineSettings,
    clock: FakeClock,
    tmp_path: Path,
) -> AsyncIterator[Cluster]:
    settings = queue_settings.model_copy(update={"queue_lease_s": LEASE_S})
    made = Cluster(redis_server.url, redis_prefix, settings, engine_settings, clock, tmp_path)
    yield made
    for close in reversed(made.closers):
        await close()


async def until(stream: AsyncIterator[JobEvent], kind: type[JobEvent]) -> list[JobEvent]:
    """The events of `stream` up to and including the first of `kind`."""
    seen = []
    async for event in stream:
        seen.append(event)
        if isinstance(event, kind):
            return seen
    raise AssertionError(f"the stream ended before a {kind.__name__}: {seen}")


async def crash(cluster: Cluster, bot: RedisJobQueue, source: RedisJobSource, job_id: str) -> None:
    """`source` takes the job and starts it, then goes silent past its lease; the bot reclaims it."""
    [taken] = await source.take(BatchLimits(1)) or []
    assert taken.job_id == job_id
    await source.begin([job_id])
    cluster.clock.advance(LEASE_S + 1)
    assert await bot.reclaim() == [job_id]


async def test_a_job_whose_worker_went_silent_is_handed_to_another_and_finished_once(cluster: Cluster) -> None:
    bot = await cluster.bot()
    silent = await cluster.hand("silent")
    handle = await bot.submit(spec("ann"))

    await crash(cluster, bot, silent, handle.info.job_id)
    await cluster.worker("healthy")

    events = await events_of(handle)
    assert [e.recovered for e in events if isinstance(e, JobQueued)] == [False, True]
    assert [type(e) for e in events].count(JobStarted) == 2
    assert sum(isinstance(e, JobFinished | JobFailed | JobCancelled) for e in events) == 1
    assert isinstance(events[-1], JobFinished)
    assert (await bot.get(handle.info.job_id)).attempts == 2


async def test_a_late_end_from_the_worker_that_lost_the_job_is_refused(cluster: Cluster) -> None:
    bot = await cluster.bot()
    silent = await cluster.hand("silent")
    handle = await bot.submit(spec("ann"))
    await crash(cluster, bot, silent, handle.info.job_id)
    await cluster.worker("healthy")
    finished = (await events_of(handle))[-1]

    late = await silent.end(handle.info.job_id, Failed("the silent worker woke up"))

    assert not late
    assert isinstance(finished, JobFinished)
    assert (await bot.get(handle.info.job_id)).status is JobStatus.SUCCEEDED
    assert (await bot.stats()).failed == 0


async def test_a_job_that_stopped_three_workers_is_failed_with_that_reason(cluster: Cluster) -> None:
    bot = await cluster.bot()
    handle = await bot.submit(spec("ann", "a prompt that kills workers"))

    for name in ("first", "second"):
        await crash(cluster, bot, await cluster.hand(name), handle.info.job_id)
    third = await cluster.hand("third")
    [taken] = await third.take(BatchLimits(1)) or []
    await third.begin([taken.job_id])
    cluster.clock.advance(LEASE_S + 1)
    await bot.reclaim()

    failed = (await events_of(handle))[-1]
    assert failed == JobFailed(handle.info.job_id, "this job stopped 3 GPU workers, so it will not be run again")


async def test_a_cancelled_job_whose_worker_went_silent_ends_cancelled_not_rerun(cluster: Cluster) -> None:
    bot = await cluster.bot()
    silent = await cluster.hand("silent")
    handle = await bot.submit(spec("ann"))
    await silent.take(BatchLimits(1))
    await silent.begin([handle.info.job_id])
    await bot.cancel(handle.info.job_id, Person("ann"))  # the worker never stops it: it is gone

    cluster.clock.advance(LEASE_S + 1)
    await bot.reclaim()

    assert (await events_of(handle))[-1] == JobCancelled(handle.info.job_id, Person("ann"))


async def test_a_heartbeating_worker_keeps_its_job_past_the_lease(cluster: Cluster) -> None:
    bot = await cluster.bot()
    busy = await cluster.hand("busy")
    handle = await bot.submit(spec("ann"))
    await busy.take(BatchLimits(1))

    for _ in range(3):  # 60 s in all, a heartbeat every 20 s
        cluster.clock.advance(LEASE_S * 2 / 3)
        await busy.heartbeat()

    assert await bot.reclaim() == []
    assert (await bot.get(handle.info.job_id)).position == 0


async def test_a_cancel_reaches_a_job_running_on_a_remote_worker(cluster: Cluster) -> None:
    bot = await cluster.bot()
    remote = await cluster.hand("remote")
    handle = await bot.submit(spec("ann"))
    await remote.take(BatchLimits(1))
    await remote.begin([handle.info.job_id])
    heard = asyncio.Event()
    remote.on_cancel(lambda job_id: heard.set())

    info = await bot.cancel(handle.info.job_id, Person("mod"))
    await heard.wait()

    assert (info.status, info.cancelled_by) == (JobStatus.RUNNING, Person("mod"))
    assert not remote.wanted(handle.info.job_id)
    assert await remote.end(handle.info.job_id, Cancelled())  # the worker stopped it at its next step
    assert (await events_of(handle))[-1] == JobCancelled(handle.info.job_id, Person("mod"))


async def test_a_cancel_of_a_job_waiting_in_redis_ends_it_at_once(cluster: Cluster) -> None:
    bot = await cluster.bot()
    handle = await bot.submit(spec("ann"))

    info = await bot.cancel(handle.info.job_id, Person("ann"))

    assert (info.status, info.cancelled_by) == (JobStatus.CANCELLED, Person("ann"))
    assert (await events_of(handle))[-1] == JobCancelled(handle.info.job_id, Person("ann"))


async def test_two_bots_on_one_redis_share_the_caps_and_the_fair_order(cluster: Cluster) -> None:
    shard_a = await cluster.bot(origin="shard-a", queue_max_per_user=2)
    shard_b = await cluster.bot(origin="shard-b", queue_max_per_user=2)

    first = await shard_a.submit(spec("ann"))
    second = await shard_a.submit(spec("ann"))
    bobs = await shard_b.submit(spec("bob"))
    with pytest.raises(UserQueueLimitError):
        await shard_b.submit(spec("ann"))

    order = [info.job_id for info in await shard_b.active()]
    assert order == [first.info.job_id, bobs.info.job_id, second.info.job_id]
    await shard_a.close()
    await shard_b.close()
    again_a = await cluster.bot(origin="shard-a", start=False)
    assert [info.job_id for info in await again_a.start()] == [first.info.job_id, second.info.job_id]


async def test_a_restarted_bot_hears_what_happened_while_it_was_down(cluster: Cluster) -> None:
    before = await cluster.bot()
    worker = await cluster.hand("worker")
    handle = await before.submit(spec("ann"))
    await before.close()

    await worker.take(BatchLimits(1))
    await worker.begin([handle.info.job_id])
    worker.progress([handle.info.job_id], 1, 3)
    await worker.end(handle.info.job_id, Failed("it went wrong while the bot was down"))
    after = await cluster.bot(start=False)
    heard = after.subscribe()
    found = await after.start()

    assert [info.job_id for info in found] == [handle.info.job_id]
    assert [type(e) for e in await until(heard, JobFailed)] == [JobStarted, JobProgress, JobFailed]


async def test_a_job_found_at_start_up_is_watched_from_its_submission(cluster: Cluster) -> None:
    before = await cluster.bot()
    handle = await before.submit(spec("ann"))
    await before.close()

    after = await cluster.bot(start=False)
    [found] = await after.start()
    await cluster.worker("worker")

    events = [event async for event in after.watch(found.job_id)]
    assert events[0] == JobQueued(handle.info.job_id, 1, None)
    assert isinstance(events[-1], JobFinished)


async def test_a_success_whose_video_expired_from_redis_is_a_failure_the_user_can_read(cluster: Cluster) -> None:
    bot = await cluster.bot()
    await cluster.worker("worker")
    finished = (await events_of(await bot.submit(spec("ann"))))[-1]
    assert isinstance(finished, JobFinished)
    finished.result.video.path.unlink()  # and Redis let go of it when the bot fetched it

    assert await bot.outcome(finished.job_id) == JobFailed(finished.job_id, LOST_VIDEO)


async def test_stats_list_every_worker_and_mark_a_silent_one_gone(cluster: Cluster) -> None:
    bot = await cluster.bot()
    await cluster.worker("steady")
    silent = await cluster.hand("silent")
    handle = await bot.submit(spec("ann", steps=1))
    await events_of(handle)
    cluster.clock.advance(LEASE_S + 1)

    await silent.heartbeat()
    workers = {worker.name: worker for worker in (await bot.stats()).workers}

    assert set(workers) == {"steady", "silent"}
    assert workers["silent"].alive
    assert not workers["steady"].alive  # its tick never ran on the moved clock: gone
    assert workers["steady"].jobs_done == 1
    assert workers["steady"].host == "test-host"


async def test_waiting_jobs_survive_a_redis_restart_with_aof(
    tmp_path: Path, queue_settings: QueueSettings, engine_settings: EngineSettings, clock: FakeClock
) -> None:
    server = RedisServer.start(tmp_path / "aof", appendonly=True)
    cluster = Cluster(server.url, "aof:", queue_settings, engine_settings, clock, tmp_path)
    try:
        before = await cluster.bot()
        handles = [await before.submit(spec(owner)) for owner in ("ann", "bob")]
        await before.close()
        server.kill()
        server.restart()

        after = await cluster.bot(start=False)
        found = await after.start()
        await cluster.worker("worker")

        assert [info.job_id for info in found] == [handle.info.job_id for handle in handles]
        for handle in handles:
            assert isinstance([event async for event in after.watch(handle.info.job_id)][-1], JobFinished)
    finally:
        for close in reversed(cluster.closers):
            await close()
        server.stop()


async def test_a_picture_on_the_bots_host_reaches_a_worker_through_redis_and_is_gone_when_the_job_ends(
    cluster: Cluster, tmp_path: Path
) -> None:
    picture = bot_picture(cluster)
    bot = await cluster.bot()
    hand = await cluster.hand("elsewhere")
    handle = await bot.submit(spec("ann", image=str(picture)))
    picture.unlink()  # the worker's host never had it

    [taken] = await hand.take(BatchLimits(1)) or []
    copy = Path(taken.spec.request.image or "")
    assert contents(copy) == b"\x89PNG a picture"
    assert copy != picture

    await hand.end(handle.info.job_id, Failed("it could not be animated"))
    assert contents(copy) is None
    assert await cluster_keys(cluster, "image:*") == []


async def test_a_picture_that_is_gone_from_redis_fails_its_job_with_a_clear_reason(
    cluster: Cluster, tmp_path: Path
) -> None:
    picture = bot_picture(cluster)
    bot = await cluster.bot()
    handle = await bot.submit(spec("ann", image=str(picture)))
    for key in await cluster_keys(cluster, "image:*"):
        await bot_client(cluster).delete(key)

    await cluster.worker("gpu")

    assert (await events_of(handle))[-1] == JobFailed(handle.info.job_id, PICTURE_GONE)


async def test_a_refused_submission_leaves_no_picture_behind(cluster: Cluster, tmp_path: Path) -> None:
    picture = bot_picture(cluster)
    bot = await cluster.bot(queue_max_per_user=1)
    await bot.submit(spec("ann", image=str(picture)))

    with pytest.raises(UserQueueLimitError):
        await bot.submit(spec("ann", image=str(picture)))

    assert len(await cluster_keys(cluster, "image:*")) == 1


async def test_a_video_to_extend_travels_to_the_worker_as_a_picture_does_and_is_gone_when_the_job_ends(
    cluster: Cluster,
) -> None:
    video = bot_picture(cluster, name="clip.mp4")
    bot = await cluster.bot()
    hand = await cluster.hand("elsewhere")
    handle = await bot.submit(spec("ann", extend=str(video)))
    video.unlink()  # the worker's host never had it

    [taken] = await hand.take(BatchLimits(1)) or []
    copy = Path(taken.spec.request.extend or "")
    assert contents(copy) == b"\x89PNG a picture"
    assert (copy.suffix, taken.spec.request.image) == (".mp4", None)

    await hand.end(handle.info.job_id, Failed("it could not be extended"))
    assert contents(copy) is None
    assert await cluster_keys(cluster, "image:*") == []


async def test_a_video_to_extend_that_is_gone_from_redis_fails_its_job_saying_so(cluster: Cluster) -> None:
    bot = await cluster.bot()
    handle = await bot.submit(spec("ann", extend=str(bot_picture(cluster, name="clip.mp4"))))
    for key in await cluster_keys(cluster, "image:*"):
        await bot_client(cluster).delete(key)

    await cluster.worker("gpu")

    assert (await events_of(handle))[-1] == JobFailed(handle.info.job_id, VIDEO_GONE)


async def test_a_video_to_extend_from_outside_the_bots_folder_is_refused_before_anything_is_stored(
    cluster: Cluster,
) -> None:
    elsewhere = cluster.tmp_path / "clip.mp4"
    elsewhere.write_bytes(b"a video")
    bot = await cluster.bot()

    with pytest.raises(InvalidRequestError, match="extend must be a video the bot stored in"):
        await bot.submit(spec("ann", extend=str(elsewhere)))

    assert await cluster_keys(cluster, "image:*") == []


async def test_a_video_to_extend_too_large_for_redis_is_refused_naming_the_limit(cluster: Cluster) -> None:
    video = bot_picture(cluster, name="long.mp4")
    with video.open("r+b") as file:
        file.truncate(MAX_SOURCE_BYTES + 1)  # sparse: its size is all the check reads
    bot = await cluster.bot()

    with pytest.raises(InvalidRequestError) as caught:
        await bot.submit(spec("ann", extend=str(video)))

    assert str(caught.value) == f"extend must be a file of at most {MAX_SOURCE_BYTES // 2**20} MiB (got '50.0 MiB')"
    assert await cluster_keys(cluster, "image:*") == []


def bot_picture(cluster: Cluster, origin: str = "bot", name: str = "picture.png") -> Path:
    """A picture (or a video to extend, by `name`) where the bot of `origin` stores them (`output_dir/images`,
    see `Cluster.bot`)."""
    picture = cluster.tmp_path / f"bot-{origin}" / "images" / name
    picture.parent.mkdir(parents=True, exist_ok=True)
    picture.write_bytes(b"\x89PNG a picture")
    return picture


def contents(path: Path) -> bytes | None:
    """The file's bytes, or None if there is no such file."""
    return path.read_bytes() if path.exists() else None


def bot_client(cluster: Cluster) -> Any:
    """A plain client on the cluster's Redis (bytes, not strings)."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(cluster.url)
    cluster.closers.append(client.aclose)
    return client


async def cluster_keys(cluster: Cluster, pattern: str) -> list[bytes]:
    """The keys of this test's prefix matching `pattern`."""
    return [key async for key in bot_client(cluster).scan_iter(f"{cluster.prefix}{pattern}")]


# -- retention: the bot host's files and the job records (VIDEO_RETENTION_H) -----------------------

WEEK_S = 7 * 24 * 3600  # ENDED_EVENTS_TTL in the Lua prelude


async def finished_on(cluster: Cluster, bot: RedisJobQueue) -> JobFinished:
    """Run one job of `bot` to its end on a worker; its video is then on the bot's host."""
    await cluster.worker("gpu")
    finished = (await events_of(await bot.submit(spec("ann"))))[-1]
    assert isinstance(finished, JobFinished)
    return finished


async def test_a_job_record_does_not_expire_while_its_outcome_is_owed(cluster: Cluster) -> None:
    bot = await cluster.bot(video_retention_h=336.0)
    done = await finished_on(cluster, bot)

    assert await bot_client(cluster).ttl(f"{cluster.prefix}job:{done.job_id}") == -1  # no expiry


async def test_an_acknowledged_job_record_expires_after_the_retention_and_two_sweeps(cluster: Cluster) -> None:
    bot = await cluster.bot(video_retention_h=336.0)
    done = await finished_on(cluster, bot)

    await bot.acknowledge(done.job_id)

    ttl = await bot_client(cluster).ttl(f"{cluster.prefix}job:{done.job_id}")
    assert 336 * 3600 < ttl <= 338 * 3600


async def test_an_acknowledged_job_record_lasts_at_least_as_long_as_its_events(cluster: Cluster) -> None:
    bot = await cluster.bot(video_retention_h=0)
    done = await finished_on(cluster, bot)

    await bot.acknowledge(done.job_id)

    assert WEEK_S - 60 < await bot_client(cluster).ttl(f"{cluster.prefix}job:{done.job_id}") <= WEEK_S


async def test_a_job_acknowledged_before_it_ended_expires_when_it_ends(cluster: Cluster) -> None:
    bot = await cluster.bot()
    handle = await bot.submit(spec("ann"))
    key = f"{cluster.prefix}job:{handle.info.job_id}"
    await bot.acknowledge(handle.info.job_id)
    assert await bot_client(cluster).ttl(key) == -1  # still waiting

    await bot.cancel(handle.info.job_id, Person("ann"))

    assert await bot_client(cluster).ttl(key) > 0


async def test_a_bots_sweep_leaves_the_files_of_another_bot_origin(cluster: Cluster) -> None:
    first = await cluster.bot(origin="shard-1", video_retention_h=168.0)
    video = (await finished_on(cluster, first)).result.video.path
    await first.acknowledge(video.stem)
    await first.close()
    cluster.clock.advance(WEEK_S + 60)

    await cluster.bot(origin="shard-2", video_retention_h=168.0)
    assert video.exists()
    await cluster.bot(origin="shard-1", video_retention_h=168.0)
    assert not video.exists()


async def test_a_bot_whose_own_clock_runs_weeks_ahead_sweeps_nothing_redis_calls_recent(cluster: Cluster) -> None:
    bot = await cluster.bot(video_retention_h=168.0)
    video = (await finished_on(cluster, bot)).result.video.path
    await bot.acknowledge(video.stem)
    await bot.close()
    ahead = FakeClock(start=cluster.clock.time() + 2 * WEEK_S)  # the bot host's clock; Redis's is cluster.clock

    commands = QueueVerbs(connect(cluster.url), prefix=cluster.prefix, lease_s=LEASE_S, test_clock=cluster.clock)
    restarted = RedisJobQueue(
        cluster.settings.model_copy(update={"video_retention_h": 168.0}), commands, connect(cluster.url, decode=False),
        output_dir=cluster.tmp_path / "bot-bot", clock=ahead, tick_clock=FakeClock(),
    )  # fmt: skip
    cluster.closers.append(restarted.close)
    await restarted.start()  # sweeps once at start

    assert video.exists()


async def test_a_retention_set_after_the_record_expired_still_finds_the_files(cluster: Cluster) -> None:
    bot = await cluster.bot(video_retention_h=0)
    done = await finished_on(cluster, bot)
    await bot.acknowledge(done.job_id)
    await bot.close()
    await bot_client(cluster).delete(f"{cluster.prefix}job:{done.job_id}")  # as its expiry would
    cluster.clock.advance(WEEK_S + 60)

    await cluster.bot(video_retention_h=168.0)

    assert not done.result.video.path.exists()


async def test_a_burst_of_submissions_larger_than_the_connection_pool_is_admitted_whole(cluster: Cluster) -> None:
    bot = await cluster.bot(queue_max_jobs=400)

    handles = await asyncio.gather(*(bot.submit(spec(f"user{n}")) for n in range(300)))

    assert len({handle.info.job_id for handle in handles}) == 300
    assert (await bot.stats()).waiting == 300
