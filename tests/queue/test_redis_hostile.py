"""Whatever Redis holds, the bot and the workers write and delete only inside their own folders.

Redis is shared by the whole fleet, so what is read back from it is input: these specifications plant
records the scripts never write (with a plain client, as anyone who can reach Redis could) — job ids
and paths rewritten to traversal strings and to absolute paths outside the folders — then restart the
bot, run its retention sweep, run its event pump and let a worker take jobs. Sentinel files sit
outside the folders: none is deleted and no file appears next to them; each damaged record is
reported once in the log and skipped, or, where it ends a job someone follows, failed visibly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from generation.config import EngineSettings
from generation.errors import JobNotFoundError, shown
from generation.queue.interface import JobEvent, JobFailed, JobFinished, JobQueued
from generation.queue.jobfiles import new_job_id
from generation.queue.reasons import DAMAGED_JOB, LOST_VIDEO
from generation.queue.redis.codec import encode_request, video_key
from generation.queue.redis.host import WorkerHost
from generation.queue.redis.queue import RedisJobQueue
from generation.queue.redis.source import RedisJobSource
from generation.queue.redis.verbs import QueueVerbs, connect
from generation.queue.settings import QueueSettings
from generation.queue.source import BatchLimits
from generation.results import Timings
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FakeGenerator
from tests.fakes.redis_queue import redis_queue, worker_host
from tests.fixtures.redis_server import RedisServer
from tests.queue.conftest import events_of, request, spec, stub_encoder

TRAVERSAL = "../../escaped"
PLANTED_BYTES = b"bytes planted in Redis"


@dataclass
class Fleet:
    """A bot and workers on one Redis prefix, their folders under `host/`, sentinels beside them."""

    url: str
    prefix: str
    settings: QueueSettings
    clock: FakeClock
    root: Path
    raw: redis.Redis
    closers: list[Callable[[], Any]] = field(default_factory=list)

    @property
    def output_dir(self) -> Path:
        """The bot's OUTPUT_DIR."""
        return self.root / "host" / "outputs"

    @property
    def absolute(self) -> str:
        """An absolute path outside every folder of the fleet."""
        return str(self.root / "escaped")

    async def bot(self, **settings: Any) -> RedisJobQueue:
        queue = redis_queue(
            self.url, self.prefix, self.settings.model_copy(update=settings), self.output_dir, self.clock
        )
        self.closers.append(queue.close)
        await queue.start()
        return queue

    def worker(self, name: str) -> tuple[WorkerHost, RedisJobSource]:
        engine = EngineSettings(output_dir=self.root / "host" / name, max_batch_size=1)
        made = worker_host(
            self.url, self.prefix, self.settings, engine, FakeGenerator(clock=self.clock), self.clock, name=name,
            encoder=stub_encoder,
        )  # fmt: skip
        self.closers.append(made[0].close)
        return made

    def picture(self, name: str = "picture.png") -> str:
        """A picture where the bot stores them (`OUTPUT_DIR/images`)."""
        path = self.output_dir / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x89PNG " + name.encode())
        return str(path)

    def outside(self) -> dict[Path, bytes]:
        """Every file under the test's folder but the bot's and the workers' own: what must not change."""
        own = self.root / "host"
        return {path: path.read_bytes() for path in self.root.rglob("*") if path.is_file() and own not in path.parents}

    def key(self, *parts: str) -> str:
        return self.prefix + "".join(parts)

    async def plant_success(self, job_id: str, *, record_id: str | None = None) -> None:
        """A succeeded job's record, its MP4's bytes and its `finished` event, as no script wrote them."""
        meta = {"size_bytes": len(PLANTED_BYTES), "width": 64, "height": 64, "num_frames": 2, "fps": 8}
        await self.raw.hset(
            self.key("job:", job_id),
            mapping={
                "id": record_id or job_id, "status": "succeeded", "request": encode_request(request()),
                "owner": "mallory", "submitted_at": "1", "finished_at": "2", "seed": "1", "token": "1",
                "video": json.dumps(meta), "video_key": self.key("video:", job_id, ":1"),
            },
        )  # fmt: skip
        await self.raw.set(self.key("video:", job_id, ":1"), PLANTED_BYTES)
        entry = await self.raw.xadd(self.key("events"), {"job": job_id, "kind": "finished"})
        await self.raw.xadd(self.key("ev:", job_id), {"job": job_id, "kind": "finished"}, id=entry)


@pytest.fixture
async def fleet(
    redis_server: RedisServer, redis_prefix: str, queue_settings: QueueSettings, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Fleet]:
    raw = redis.Redis.from_url(redis_server.url, decode_responses=True)
    made = Fleet(redis_server.url, redis_prefix, queue_settings, clock, tmp_path, raw)
    for sentinel in ("sentinel.txt", "escaped.mp4", "host/escaped.png"):
        (tmp_path / sentinel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / sentinel).write_bytes(b"must survive")
    yield made
    for close in reversed(made.closers):
        await close()
    await raw.aclose()


def reports(caplog: pytest.LogCaptureFixture, value: str) -> int:
    """How many warnings named `value` (as the log shows what it read from Redis: quoted, shortened)."""
    return sum(shown(value) in record.getMessage() for record in caplog.records if record.levelno == logging.WARNING)


async def until_queued(stream: AsyncIterator[JobEvent], job_id: str) -> list[JobEvent]:
    """The events up to the first `JobQueued` of `job_id`: the pump has read everything written before it."""
    seen = []
    async for event in stream:
        seen.append(event)
        if isinstance(event, JobQueued) and event.job_id == job_id:
            return seen
    raise AssertionError(f"the stream ended before {job_id} was queued: {seen}")


async def test_the_retention_sweep_deletes_nothing_a_planted_record_names_outside_the_bots_folder(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    before = fleet.outside()
    sentinel = str(fleet.root / "sentinel.txt")
    sneaky = str(fleet.output_dir / "images" / ".." / ".." / ".." / "sentinel.txt")
    ours, theirs = new_job_id(), new_job_id()
    kept_video = fleet.output_dir / f"{ours}.mp4"
    kept_video.parent.mkdir(parents=True)
    kept_video.write_bytes(b"an old video")
    await fleet.raw.zadd(fleet.key("kept:bot"), {TRAVERSAL: 0, fleet.absolute: 0, ours: 0, theirs: 0})
    await fleet.raw.hset(fleet.key("pictures:bot"), mapping={TRAVERSAL: sentinel, ours: sentinel, theirs: sneaky})

    with caplog.at_level(logging.WARNING):
        await (await fleet.bot(video_retention_h=1.0)).close()
        await fleet.bot(video_retention_h=1.0)  # restarted: the bad records were dropped, not met again

    assert fleet.outside() == before
    assert not kept_video.exists()  # the sweep still does its work inside the folder
    assert [reports(caplog, value) for value in (TRAVERSAL, fleet.absolute)] == [1, 1]
    assert sum("is not in" in record.getMessage() for record in caplog.records) == 2
    assert await fleet.raw.zcard(fleet.key("kept:bot")) == 0


async def test_planted_events_make_the_bot_write_nothing_outside_its_folder_and_stop_no_loop(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    before = fleet.outside()
    bot = await fleet.bot()
    stream = bot.subscribe()
    renamed = new_job_id()
    with caplog.at_level(logging.WARNING):
        for job_id in (TRAVERSAL, fleet.absolute):
            await fleet.plant_success(job_id)
        await fleet.plant_success(renamed, record_id=TRAVERSAL)
        handle = await bot.submit(spec("ann"))  # written after them: once it is heard, so were they

        seen = await until_queued(stream, handle.info.job_id)

    assert fleet.outside() == before
    assert [event for event in seen if not isinstance(event, JobQueued)] == [JobFailed(renamed, DAMAGED_JOB)]
    assert [reports(caplog, value) for value in (TRAVERSAL, fleet.absolute)] == [1, 1]
    assert list(fleet.output_dir.glob("*.mp4")) == []


async def test_a_restarted_bot_skips_the_damaged_records_it_followed_and_reports_each_once(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    first = await fleet.bot()
    kept = await first.submit(spec("ann"))
    damaged = await first.submit(spec("bob"))
    await first.close()
    await fleet.raw.hset(fleet.key("job:", damaged.info.job_id), "request", json.dumps({"prompt": "x", "steps": "3"}))
    for job_id in (TRAVERSAL, fleet.absolute):
        await fleet.plant_success(job_id)
        await fleet.raw.sadd(fleet.key("open:bot"), job_id)

    with caplog.at_level(logging.WARNING):
        bot = redis_queue(fleet.url, fleet.prefix, fleet.settings, fleet.output_dir, fleet.clock)
        fleet.closers.append(bot.close)
        found = await bot.start()
        with pytest.raises(JobNotFoundError):
            await bot.get(damaged.info.job_id)

    assert [info.job_id for info in found] == [kept.info.job_id]
    assert [reports(caplog, value) for value in (TRAVERSAL, fleet.absolute, damaged.info.job_id)] == [1, 1, 1]


@pytest.mark.parametrize("field", ["image", "extend"])
async def test_a_stored_request_naming_a_file_outside_the_bots_folder_is_skipped_as_damaged(
    fleet: Fleet, caplog: pytest.LogCaptureFixture, field: str
) -> None:
    first = await fleet.bot()
    handle = await first.submit(spec("ann"))
    await first.close()
    job_id = handle.info.job_id
    planted = request(**{field: fleet.absolute})  # e.g. an extension of a file the sweep would then delete
    await fleet.raw.hset(fleet.key("job:", job_id), "request", encode_request(planted))

    with caplog.at_level(logging.WARNING):
        bot = await fleet.bot()
        with pytest.raises(JobNotFoundError):
            await bot.get(job_id)

    assert "is not one the bot stored" in caplog.text
    assert reports(caplog, job_id) == 1


async def test_a_worker_skips_a_taken_job_whose_id_was_rewritten_and_writes_no_picture_outside(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    before = fleet.outside()
    bot = await fleet.bot()
    rewritten = await bot.submit(spec("ann", image=fleet.picture("ann.png")))
    sound = await bot.submit(spec("bob", image=fleet.picture("bob.png")))
    await fleet.raw.hset(fleet.key("job:", rewritten.info.job_id), "id", TRAVERSAL)
    _, hand = fleet.worker("gpu")
    await hand.start()

    with caplog.at_level(logging.WARNING):
        taken = await hand.take(BatchLimits(1)) or []

    assert [info.job_id for info in taken] == [sound.info.job_id]
    assert fleet.outside() == before
    assert reports(caplog, TRAVERSAL) == 1


async def test_a_job_whose_stored_request_fails_validation_is_failed_visibly_by_the_worker(fleet: Fleet) -> None:
    bot = await fleet.bot()
    handle = await bot.submit(spec("ann"))
    stored = json.dumps({"prompt": "a cat", "width": 64, "height": 64, "steps": 3, "num_frames": 2, "evil": 1})
    await fleet.raw.hset(fleet.key("job:", handle.info.job_id), "request", stored)
    host, _ = fleet.worker("gpu")
    await host.start()

    assert (await events_of(handle))[-1] == JobFailed(handle.info.job_id, DAMAGED_JOB)


async def test_a_job_whose_stored_weight_is_no_weight_is_failed_visibly_by_the_worker(fleet: Fleet) -> None:
    bot = await fleet.bot()
    handle = await bot.submit(spec("ann"))
    await fleet.raw.hset(fleet.key("job:", handle.info.job_id), "weight", "99")
    host, _ = fleet.worker("gpu")
    await host.start()

    assert (await events_of(handle))[-1] == JobFailed(handle.info.job_id, DAMAGED_JOB)


async def test_a_worker_cannot_make_the_bot_deliver_another_keys_bytes(fleet: Fleet) -> None:
    bot = await fleet.bot()
    handle = await bot.submit(spec("ann"))
    other = await bot.submit(spec("bob", image=fleet.picture("bob.png")))
    _, hand = fleet.worker("liar")
    await hand.start()
    [taken] = await hand.take(BatchLimits(1)) or []
    await hand.begin([taken.job_id])
    token = await fleet.raw.hget(fleet.key("job:", taken.job_id), "token")
    meta = {"size_bytes": 13, "width": 64, "height": 64, "num_frames": 2, "fps": 8}
    # What a hostile worker (or one of an older version) sends: a success whose bytes are "over there".
    ending = {
        "kind": "succeeded", "seed": "1", "video": json.dumps(meta), "timings": json.dumps(asdict(Timings())),
        "batch_size": "1", "video_key": fleet.key("image:", other.info.job_id),
    }  # fmt: skip
    commands = QueueVerbs(
        connect(fleet.url), prefix=fleet.prefix, lease_s=fleet.settings.queue_lease_s, test_clock=fleet.clock
    )
    fleet.closers.append(commands.client.aclose)
    assert await commands.end("liar", str(token), taken.job_id, ending, "a-request") is not None

    assert (await events_of(handle))[-1] == JobFailed(handle.info.job_id, LOST_VIDEO)
    assert [path for path in fleet.output_dir.rglob("*.*") if path.read_bytes() == b"\x89PNG bob.png"] == [
        fleet.output_dir / "images" / "bob.png"
    ]


async def test_the_video_key_the_end_script_records_is_the_one_python_derives(fleet: Fleet) -> None:
    bot = await fleet.bot()
    handle = await bot.submit(spec("ann"))
    host, _ = fleet.worker("gpu")
    await host.start()
    assert isinstance((await events_of(handle))[-1], JobFinished)

    record = await fleet.raw.hgetall(fleet.key("job:", handle.info.job_id))

    assert record["video_key"] == video_key(fleet.prefix, handle.info.job_id, record["token"])
