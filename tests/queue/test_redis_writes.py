"""Nothing stranded: a write Redis refuses (at its memory limit, `noeviction`) or whose answer is lost
is sent again, applied once, and a job whose end cannot be recorded still ends visibly.

Redis here is a private `redis-server` run past its `maxmemory` (`noeviction`): it refuses writes that
could grow it, as a full Redis does in production. A lost answer is a command that ran on the server
whose reply never came back (a client-side time-out): the commands below run it, then raise. The
worker is driven by hand; its retries and ticks sleep on a tick clock only the test moves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aredis

from generation.conditioning import IMAGES_FOLDER
from generation.config import EngineSettings
from generation.errors import QueueBusyError
from generation.queue.interface import JobFailed, JobFinished, JobStatus
from generation.queue.redis.codec import Raw, job_fields
from generation.queue.redis.queue import QUEUE_BUSY, RedisJobQueue
from generation.queue.redis.source import VIDEO_NOT_STORED, RedisJobSource
from generation.queue.redis.verbs import QueueVerbs
from generation.queue.settings import QueueSettings
from generation.queue.source import BatchLimits, Ending, Failed, Succeeded
from generation.results import Timings, VideoFile
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FakeGenerator
from tests.fakes.redis_queue import redis_queue, worker_host
from tests.fixtures.redis_server import RedisServer
from tests.queue.conftest import spec

LEASE_S = 30.0
PREFIX = "writes:"
VIDEO = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of its own, to run out of memory."""
    started = RedisServer.start(tmp_path / "redis")
    yield started
    started.stop()


def keys(server: RedisServer, pattern: str) -> list[bytes]:
    """This queue's keys matching `pattern`."""
    with redis.Redis(port=server.port) as client:
        return list(client.scan_iter(f"{PREFIX}{pattern}"))


@dataclass
class Fleet:
    """The bot's queue and a hand-driven worker on one Redis; the scripts on `clock`, the worker's
    retries and ticks on `tick`."""

    server: RedisServer
    settings: QueueSettings
    engine: EngineSettings
    clock: FakeClock
    tick: FakeClock
    tmp_path: Path
    closers: list[Any]

    async def bot(self) -> RedisJobQueue:
        queue = redis_queue(self.server.url, PREFIX, self.settings, self.tmp_path / "bot", self.clock)
        self.closers.append(queue.close)
        await queue.start()
        return queue

    async def worker(self, commands_type: type[QueueVerbs] = QueueVerbs) -> RedisJobSource:
        _, source = worker_host(
            self.server.url, PREFIX, self.settings, self.engine, FakeGenerator(), self.clock,
            tick_clock=self.tick, commands_type=commands_type,
        )  # fmt: skip
        self.closers.append(source.close)
        await source.start()
        return source

    def video(self) -> Succeeded:
        """A finished 1 MiB video on the worker's disk."""
        path = self.tmp_path / "made.mp4"
        path.write_bytes(VIDEO)
        return Succeeded(VideoFile(path, len(VIDEO), 64, 64, 2, 8), seed=7, timings=Timings(), batch_size=1)


@pytest.fixture
async def fleet(
    server: RedisServer, queue_settings: QueueSettings, engine_settings: EngineSettings, tmp_path: Path
) -> AsyncIterator[Fleet]:
    settings = queue_settings.model_copy(update={"queue_lease_s": LEASE_S})
    made = Fleet(server, settings, engine_settings, FakeClock(), FakeClock(), tmp_path, [])
    yield made
    for close in reversed(made.closers):
        await close()


async def running_job(fleet: Fleet, bot: RedisJobQueue, source: RedisJobSource) -> str:
    """A job submitted, taken by `source` and started; its id."""
    handle = await bot.submit(spec("ann"))
    [taken] = await source.take(BatchLimits(1)) or []
    await source.begin([taken.job_id])
    return handle.info.job_id


async def end_on_tick(fleet: Fleet, source: RedisJobSource, job_id: str, ending: Ending) -> bool:
    """`source.end`, moving the tick clock on while it waits to retry."""
    return await fleet.tick.run_until_done(source.end(job_id, ending), step=LEASE_S / 3)


# -- Redis at its memory limit ------------------------------------------------------------------


async def test_a_video_redis_had_no_room_for_is_delivered_once_memory_is_freed(fleet: Fleet) -> None:
    bot = await fleet.bot()
    source = await fleet.worker()
    job_id = await running_job(fleet, bot, source)
    fillers = fleet.server.exhaust_memory()

    ending = asyncio.ensure_future(source.end(job_id, fleet.video()))
    await fleet.tick.wait_for_sleepers(1, due_within=1.0)  # refused, and waiting to try again
    fleet.server.free_memory(fillers)

    assert await fleet.tick.run_until_done(ending, step=LEASE_S / 3)
    finished = await bot.outcome(job_id)
    assert isinstance(finished, JobFinished)
    assert finished.result.video.path.read_bytes() == VIDEO


async def test_a_video_redis_never_has_room_for_fails_its_job_with_the_reason(fleet: Fleet) -> None:
    bot = await fleet.bot()
    source = await fleet.worker()
    job_id = await running_job(fleet, bot, source)
    fillers = fleet.server.exhaust_memory()

    assert await end_on_tick(fleet, source, job_id, fleet.video())

    fleet.server.free_memory(fillers)
    assert (await bot.get(job_id)).status is JobStatus.FAILED
    assert (await bot.outcome(job_id)) == JobFailed(job_id, VIDEO_NOT_STORED)
    assert keys(fleet.server, "video:*") == []


async def test_a_submission_redis_has_no_room_for_is_refused_with_nothing_written(fleet: Fleet, tmp_path: Path) -> None:
    picture = tmp_path / "bot" / IMAGES_FOLDER / "picture.png"  # where the bot keeps the pictures it takes
    picture.parent.mkdir(parents=True)
    picture.write_bytes(b"\x89PNG a picture")
    bot = await fleet.bot()
    written = keys(fleet.server, "*")
    fleet.server.exhaust_memory()

    with pytest.raises(QueueBusyError) as refused:
        await bot.submit(spec("ann", image=str(picture)))
    with pytest.raises(QueueBusyError):
        await bot.submit(spec("bob"))

    assert str(refused.value) == QUEUE_BUSY
    assert sorted(keys(fleet.server, "*")) == sorted(written)


# -- answers lost on the way back ---------------------------------------------------------------


def _lost() -> aredis.TimeoutError:
    return aredis.TimeoutError("Timeout reading from 127.0.0.1")


class FirstTakeAnswerLost(QueueVerbs):
    """The first take runs on the server; its answer never arrives."""

    lost = False

    async def take(
        self, worker: str, model: str, default: int, by_shape: Mapping[str, int], request: str
    ) -> tuple[list[Raw], str]:
        answer = await super().take(worker, model, default, by_shape, request)
        if answer[0] and not self.lost:
            self.lost = True
            raise _lost()
        return answer


class FirstEndAnswerLost(QueueVerbs):
    """The first end runs on the server; its answer never arrives."""

    lost = False

    async def end(self, worker: str, token: str, job_id: str, ending: Mapping[str, Any], request: str) -> Raw | None:
        answer = await super().end(worker, token, job_id, ending, request)
        if not self.lost:
            self.lost = True
            raise _lost()
        return answer


class EndNeverAnswered(QueueVerbs):
    """Every end times out before Redis records it."""

    async def end(self, worker: str, token: str, job_id: str, ending: Mapping[str, Any], request: str) -> Raw | None:
        raise _lost()


async def test_a_take_whose_answer_was_lost_hands_the_same_job_again(fleet: Fleet) -> None:
    bot = await fleet.bot()
    source = await fleet.worker(FirstTakeAnswerLost)
    handle = await bot.submit(spec("ann"))

    taken = await fleet.tick.run_until_done(source.take(BatchLimits(1)), step=LEASE_S / 3)

    assert [info.job_id for info in taken or []] == [handle.info.job_id]
    assert await source.end(handle.info.job_id, Failed("made to end"))  # held by this worker all along
    assert (await bot.outcome(handle.info.job_id)) == JobFailed(handle.info.job_id, "made to end")


async def test_an_end_whose_answer_was_lost_is_applied_once_and_its_video_delivered(fleet: Fleet) -> None:
    bot = await fleet.bot()
    source = await fleet.worker(FirstEndAnswerLost)
    job_id = await running_job(fleet, bot, source)

    assert await end_on_tick(fleet, source, job_id, fleet.video())

    finished = await bot.outcome(job_id)
    assert isinstance(finished, JobFinished)
    assert finished.result.video.path.read_bytes() == VIDEO
    assert (await bot.stats()).succeeded == 1


async def test_a_worker_that_cannot_record_an_end_lets_the_lease_run_out_and_the_job_is_reclaimed(
    fleet: Fleet,
) -> None:
    bot = await fleet.bot()
    source = await fleet.worker(EndNeverAnswered)
    job_id = await running_job(fleet, bot, source)

    assert not await end_on_tick(fleet, source, job_id, Failed("never recorded"))
    fleet.clock.advance(LEASE_S + 1)
    await source.heartbeat()  # no longer for this job
    await bot.reclaim()  # (or the worker's own tick did, a moment before)

    job = await bot.get(job_id)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1)


async def test_a_submission_sent_again_under_its_job_id_is_queued_once(fleet: Fleet) -> None:
    commands = QueueVerbs(
        aredis.Redis.from_url(fleet.server.url), prefix=PREFIX, lease_s=LEASE_S, test_clock=fleet.clock
    )
    fields = job_fields("j1", spec("ann"), "bot")
    fleet.closers.append(commands.client.aclose)

    first = await commands.submit("j1", fields, max_jobs=10, max_per_user=1)
    again = await commands.submit("j1", fields, max_jobs=10, max_per_user=1)  # its first answer lost

    assert again["job"]["id"] == first["job"]["id"] == "j1"
    assert await commands.active_ids() == ["j1"]
