"""`HostedRedisQueue`: the Redis backend as the queue specifications see it — the bot's `RedisJobQueue`
and one GPU worker (`WorkerHost` over a `RedisJobSource`) in this process, on one Redis.

It answers the whole `JobQueue` like `LocalJobQueue` does, so the same specifications run on both
backends: the bot's side answers everything but `health` (the worker's) and `close`, which stops the
worker first (finishing or handing back its job, as a worker process does on SIGTERM), then the bot's
side. The worker's leases tick on a clock of their own, which these specifications never move.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from generation.config import EngineSettings
from generation.protocol import VideoGenerator
from generation.queue.allowance import Allowance, QuotaUsage
from generation.queue.gpu import Encoder
from generation.queue.handle import QueueHandle
from generation.queue.interface import (
    Actor,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobHandle,
    JobInfo,
    JobSpec,
    QueueStats,
    ServedModel,
    WorkerHealth,
)
from generation.queue.redis.host import WorkerHost
from generation.queue.redis.queue import RedisJobQueue
from generation.queue.redis.source import RedisJobSource, SourceSettings
from generation.queue.redis.verbs import QueueVerbs, connect
from generation.queue.settings import QueueSettings
from tests.fakes.clock import FakeClock


def redis_queue(
    url: str, prefix: str, settings: QueueSettings, output_dir: Path, clock: FakeClock, **options: Any
) -> RedisJobQueue:
    """The bot's side alone, on `clock` (its tick on a clock of its own unless `tick_clock` is given)."""
    commands = QueueVerbs(connect(url), prefix=prefix, lease_s=settings.queue_lease_s, test_clock=clock)
    options.setdefault("tick_clock", FakeClock())
    return RedisJobQueue(settings, commands, connect(url, decode=False), output_dir=output_dir, clock=clock, **options)


def worker_host(
    url: str,
    prefix: str,
    settings: QueueSettings,
    engine: EngineSettings,
    generator: VideoGenerator,
    clock: FakeClock,
    *,
    name: str = "worker-1",
    model: str = "",
    profile: str = "",
    encoder: Encoder | None = None,
    tick_clock: FakeClock | None = None,
    commands_type: type[QueueVerbs] = QueueVerbs,
) -> tuple[WorkerHost, RedisJobSource]:
    """One worker in this process: its host and its source (for the lease specifications), serving
    `model` (with `profile`; '': none by name, so only the jobs naming none); its `commands_type` may
    lose answers on the way back, as a network does."""
    commands = commands_type(connect(url), prefix=prefix, lease_s=settings.queue_lease_s, test_clock=clock)
    hosts: list[WorkerHost] = []

    def describe() -> dict[str, str]:
        memory = generator.memory_in_use()
        state = hosts[0].model_state if hosts else "ready"
        return {
            "host": "test-host",
            "gpu": "fake",
            "model": state,
            "memory_bytes": "" if memory is None else str(memory),
        }

    source = RedisJobSource(
        commands,
        connect(url, decode=False),
        SourceSettings(
            name,
            settings.job_max_attempts,
            settings.eta_window,
            int(settings.queue_video_ttl_h * 3600),
            image_dir=engine.output_dir / "worker-images",
            model=model,
            profile=profile,
        ),
        clock,
        tick_clock=tick_clock or FakeClock(),
        describe=describe,
    )
    host = WorkerHost(source, generator, settings, engine, clock, encoder=encoder)
    hosts.append(host)
    return host, source


class HostedRedisQueue:
    """A `RedisJobQueue` with in-process workers (`host`: the first); see the module docstring.

    The workers start with the queue, unless `started` says they already run.
    """

    def __init__(self, queue: RedisJobQueue, host: WorkerHost, *more: WorkerHost, started: bool = False) -> None:
        self.redis = queue
        self.host = host
        self.hosts = (host, *more)
        self._started = started

    async def start(self) -> list[JobInfo]:
        found = await self.redis.start()
        if not self._started:
            for host in self.hosts:
                await host.start()
        return found

    async def close(self) -> None:
        for host in self.hosts:
            await host.close()
        await self.redis.close()

    async def submit(self, spec: JobSpec) -> JobHandle:
        handle = await self.redis.submit(spec)
        return QueueHandle(self, handle.info)

    def watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        return self.redis.watch(job_id)

    async def cancel(self, job_id: str, by: Actor) -> JobInfo:
        return await self.redis.cancel(job_id, by)

    async def get(self, job_id: str) -> JobInfo:
        return await self.redis.get(job_id)

    async def active(self) -> list[JobInfo]:
        return await self.redis.active()

    def subscribe(self) -> AsyncIterator[JobEvent]:
        return self.redis.subscribe()

    async def pause(self) -> None:
        await self.redis.pause()

    async def resume(self) -> None:
        await self.redis.resume()

    async def clear(self, by: Actor) -> list[JobInfo]:
        return await self.redis.clear(by)

    async def history(self, owner_id: str | None = None, limit: int = 10) -> list[JobInfo]:
        return await self.redis.history(owner_id, limit)

    async def stats(self) -> QueueStats:
        return await self.redis.stats()

    async def models(self) -> tuple[ServedModel, ...]:
        return await self.redis.models()

    async def quota_usage(self, allowance: Allowance) -> QuotaUsage:
        return await self.redis.quota_usage(allowance)

    def health(self) -> WorkerHealth:
        return self.host.health()

    async def acknowledge(self, job_id: str) -> None:
        await self.redis.acknowledge(job_id)

    async def outcome(self, job_id: str) -> JobFinished | JobFailed | JobCancelled:
        return await self.redis.outcome(job_id)

    async def update_context(self, job_id: str, context: str) -> None:
        await self.redis.update_context(job_id, context)
