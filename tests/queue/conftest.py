"""Building blocks for queue tests: small requests, a stub encoder, and queues that close themselves.

Queues run on a `FakeClock` (the `clock` fixture): no watchdog, grace period or sweep runs out unless
the test advances it. Jobs run as long as the test holds them at the fake generator's gates.

`make_queue` builds the queue of the test's `queue_backend`: the in-process `LocalJobQueue`, or the
Redis backend with one worker in this process (`tests.fakes.redis_queue`); the specifications are the
same for both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from generation.config import EngineSettings
from generation.protocol import VideoGenerator
from generation.queue.gpu import Encoder
from generation.queue.interface import (
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobHandle,
    JobInfo,
    JobQueue,
    JobSpec,
    JobStatus,
)
from generation.queue.local import LocalJobQueue
from generation.queue.settings import QueueSettings
from generation.request import VideoRequest
from generation.results import GeneratedClip, VideoFile
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FakeGenerator
from tests.fakes.redis_queue import HostedRedisQueue, redis_queue, worker_host
from tests.fixtures.redis_server import RedisServer

MakeQueue = Callable[..., Awaitable[Any]]
EventT = TypeVar("EventT")


def request(prompt: str = "a cat surfing", **fields: Any) -> VideoRequest:
    """A request small enough for the fake generator to turn around in milliseconds."""
    defaults: dict[str, Any] = {"width": 64, "height": 64, "num_frames": 2, "steps": 3}
    return VideoRequest(prompt, **(defaults | fields))


def spec(owner: str, prompt: str = "a cat surfing", **fields: Any) -> JobSpec:
    """A job of `owner` in guild "g1"."""
    return JobSpec(request(prompt, **fields), owner_id=owner, group_id="g1", context=f"ctx-{owner}")


def stub_encoder(clip: GeneratedClip, path: Path) -> VideoFile:
    """Writes the frames' bytes instead of an MP4: the queue only needs a file and its description."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(clip.frames.tobytes()[:64])
    frames, height, width = clip.frames.shape[:3]
    return VideoFile(path, path.stat().st_size, width, height, frames, clip.request.fps)


async def events_of(handle: JobHandle) -> list[JobEvent]:
    """Every event of the job, up to and including its terminal one."""
    return [event async for event in handle.events()]


async def picture_job_through_redis(
    urls: tuple[str, str], prefix: str, settings: QueueSettings, clock: FakeClock, folder: Path
) -> JobEvent:
    """Run one image-to-video job from a bot (at `urls[0]`) to a worker (at `urls[1]`) and back, under
    `prefix`, the way a deployment does; the job's last event, once the bot acknowledged it."""
    picture = folder / "bot" / "images" / "picture.png"
    picture.parent.mkdir(parents=True)
    picture.write_bytes(b"\x89PNG a picture")
    bot = redis_queue(urls[0], prefix, settings, folder / "bot", clock)
    host, _ = worker_host(
        urls[1], prefix, settings, EngineSettings(output_dir=folder / "worker", max_batch_size=1),
        FakeGenerator(clock=clock), clock, encoder=stub_encoder,
    )  # fmt: skip
    await bot.start()
    await host.start()
    try:
        handle = await bot.submit(spec("ann", image=str(picture)))
        last = (await events_of(handle))[-1]
        await bot.acknowledge(handle.info.job_id)
    finally:
        await host.close()
        await bot.close()
    return last


async def first(handle: JobHandle, kind: type[EventT]) -> EventT:
    """Wait for the job's first event of `kind`."""
    async for event in handle.events():
        if isinstance(event, kind):
            return event
    raise AssertionError(f"job {handle.info.job_id} ended without a {kind.__name__}")


async def start_and_drain(queue: JobQueue) -> tuple[list[JobInfo], list[JobEvent]]:
    """Start `queue`; return what it recovered and every event until each recovered job has ended."""
    stream = queue.subscribe()
    found = await queue.start()
    pending = {info.job_id for info in found if info.status is JobStatus.QUEUED}
    seen: list[JobEvent] = []
    while pending:
        event = await anext(stream)
        seen.append(event)
        if isinstance(event, JobFinished | JobFailed | JobCancelled):
            pending.discard(event.job_id)
    return found, seen


@pytest.fixture
def clock() -> FakeClock:
    """The queues' time: it stands still until the test advances it."""
    return FakeClock()


@pytest.fixture
def queue_settings(tmp_path: Path) -> QueueSettings:
    """Small caps, a database in the test's folder, videos kept (so no sweeper waits on the clock)."""
    return QueueSettings(
        database_path=tmp_path / "jobs.sqlite3",
        queue_max_jobs=20,
        queue_max_per_user=5,
        job_timeout_s=600.0,
        shutdown_grace_s=60.0,
        job_max_attempts=3,
        eta_window=20,
        video_retention_h=0,
    )


@pytest.fixture
def engine_settings(tmp_path: Path) -> EngineSettings:
    """Engine settings that only matter to the queue: where videos go and the batch size."""
    return EngineSettings(output_dir=tmp_path / "videos", max_batch_size=1)


@pytest.fixture
async def make_queue(
    queue_settings: QueueSettings,
    engine_settings: EngineSettings,
    clock: FakeClock,
    queue_backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> AsyncIterator[MakeQueue]:
    """Start a queue of the test's backend on `clock` and a fake generator; every queue made is closed
    after the test.

    Before closing them, the gates of their fake generators are opened: a job the test left held then
    runs to its end instead of waiting for a grace period on a clock nobody advances any more. The
    queues made in one test share their storage (the SQLite file, or the Redis keys under one prefix),
    so a second one is the first restarted.
    """
    queues: list[JobQueue] = []
    generators: list[VideoGenerator] = []
    if queue_backend == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        prefix: str = request.getfixturevalue("redis_prefix")

    async def make(
        generator: VideoGenerator | None = None,
        *,
        batch_size: int = 1,
        encoder: Encoder = stub_encoder,
        start: bool = True,
        **settings: Any,
    ) -> Any:
        generator = generator or FakeGenerator(clock=clock)
        chosen = queue_settings.model_copy(update=settings)
        engine = engine_settings.model_copy(update={"max_batch_size": batch_size})
        queue: JobQueue
        if queue_backend == "redis":
            # It serves the engine's model under its profile's name, as the in-process queue does.
            host, _ = worker_host(
                server.url, prefix, chosen, engine.model_copy(update={"output_dir": tmp_path / "worker"}),
                generator, clock, name=f"worker-{len(queues) + 1}", model=engine.profile.name,
                profile=engine.profile.name, encoder=encoder,
            )  # fmt: skip
            bot = redis_queue(server.url, prefix, chosen, engine.output_dir, clock)
            queue = HostedRedisQueue(bot, host)
        else:
            queue = LocalJobQueue(chosen, engine, generator, encoder=encoder, clock=clock)
        queues.append(queue)
        generators.append(generator)
        if start:
            await queue.start()
        return queue

    yield make
    for generator in generators:
        if isinstance(generator, FakeGenerator):
            generator.loading.open()
            generator.steps.open()
    for queue in queues:
        await queue.close()
