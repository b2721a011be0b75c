"""`videobot-worker` / `python -m generation.worker`: one GPU worker serving the queue in Redis.

Configured like the bot's engine, from the environment or `.env`, with no arguments: `QUEUE_URL`
(required here), `MODEL_ID`, `DEVICE`, `OFFLOAD`, `MAX_BATCH_SIZE`, ... and `WORKER_NAME` (default
host-pid-device). Run one per GPU (`DEVICE=cuda:N`, or `CUDA_VISIBLE_DEVICES`).

It registers in Redis (`workers` zset, `worker:{name}` hash: host, GPU, model state, current jobs,
jobs done, last heartbeat), takes jobs in the fair order, runs them with the engine in a child process
(as the bot's in-process queue does), stores each MP4 in Redis for the bot and heartbeats every
`QUEUE_LEASE_S / 3`. SIGTERM or SIGINT: it takes nothing more, lets the running call finish within
`SHUTDOWN_GRACE_S`, hands back what it still holds, leaves the registry and exits 0.

Start-up problems are one line on stderr and a distinct exit status: 78 for a setting to change
(`QUEUE_URL` missing or not a redis:// URL, any invalid setting), 69 when Redis cannot be reached.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import socket
import sys
from typing import Final

import redis.asyncio as redis
from pydantic import Field, ValidationError

from generation.backend import diffusers_generator
from generation.clock import SYSTEM_CLOCK, Clock
from generation.config import EngineSettings
from generation.hub_environment import export_hub_settings
from generation.process_generator import ProcessGenerator
from generation.protocol import VideoGenerator
from generation.queue.redis.commands import Commands, connect, unreachable
from generation.queue.redis.host import WorkerHost
from generation.queue.redis.source import RedisJobSource, SourceSettings
from generation.queue.settings import QueueSettings

log = logging.getLogger(__name__)

EXIT_CONFIG: Final = 78
"""A setting the operator must change (sysexits.h EX_CONFIG), as the bot's start-up checks use."""
EXIT_UNAVAILABLE: Final = 69
"""Redis could not be reached (sysexits.h EX_UNAVAILABLE)."""


class WorkerSettings(EngineSettings, QueueSettings):
    """The engine and queue settings a worker uses, and its name in the registry."""

    worker_name: str | None = Field(
        None, description="videobot-worker only: this worker's name in /videoadmin stats (default: host-pid-device)"
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    def name(self) -> str:
        """`WORKER_NAME`, or host-pid-device."""
        return self.worker_name or f"{socket.gethostname()}-{os.getpid()}-{self.device}"


class StartupError(Exception):
    """The worker cannot start; the message is the one line the operator reads."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def load_settings() -> WorkerSettings:
    """The settings from the environment and `.env`; raises `StartupError` naming what is wrong."""
    try:
        settings = WorkerSettings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])).upper()} is invalid: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()
        )
        raise StartupError(problems, EXIT_CONFIG) from None
    if settings.queue_url is None:
        raise StartupError(
            "QUEUE_URL is not set: a worker serves the queue in Redis (e.g. QUEUE_URL=redis://localhost:6379/0)",
            EXIT_CONFIG,
        )
    return settings


async def open_redis(url: str) -> redis.Redis:
    """A client for `url` once Redis answered; raises `StartupError` for a bad URL or no answer."""
    problem = await unreachable(url)
    if problem is not None:
        status = EXIT_CONFIG if problem.startswith("QUEUE_URL is not") else EXIT_UNAVAILABLE
        raise StartupError(problem, status)
    return connect(url)


async def serve(
    settings: WorkerSettings,
    *,
    generator: VideoGenerator | None = None,
    clock: Clock = SYSTEM_CLOCK,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve jobs until `stop` is set (SIGTERM/SIGINT by default), then hand back and leave."""
    assert settings.queue_url is not None
    url = settings.queue_url.get_secret_value()
    client = await open_redis(url)
    if generator is None:
        generator = ProcessGenerator(
            functools.partial(diffusers_generator, settings),
            max_batch_size=settings.max_batch_size,
        )
    name = settings.name()
    hosts: list[WorkerHost] = []

    def describe() -> dict[str, str]:
        memory = generator.memory_in_use()
        return {
            "host": socket.gethostname(),
            "gpu": _gpu(settings),
            "model": hosts[0].model_state if hosts else "loading",
            "memory_bytes": "" if memory is None else str(memory),
        }

    commands = Commands(client, lease_s=settings.queue_lease_s)
    source_settings = SourceSettings(
        name,
        settings.job_max_attempts,
        settings.eta_window,
        int(settings.queue_video_ttl_h * 3600),
        image_dir=settings.output_dir / "images",
    )
    source = RedisJobSource(commands, connect(url, decode=False), source_settings, clock, describe=describe)
    host = WorkerHost(source, generator, settings, settings, clock)
    hosts.append(host)
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    await host.start()
    log.info("worker ready name=%s model=%s device=%s", name, settings.model_id, settings.device)
    stopping = asyncio.create_task(stop.wait())
    serving = asyncio.create_task(host.wait())
    await asyncio.wait({stopping, serving}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    log.info("worker stopping name=%s; finishing or handing back its jobs", name)
    await host.close()
    serving.cancel()
    await asyncio.gather(stopping, serving, return_exceptions=True)


def _gpu(settings: WorkerSettings) -> str:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return settings.device if visible is None else f"{settings.device} (CUDA_VISIBLE_DEVICES={visible})"


def run() -> None:
    """Entry point of `videobot-worker` and `python -m generation.worker`."""
    try:
        settings = load_settings()
        logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
        export_hub_settings(settings)
        asyncio.run(serve(settings))
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(error.status) from None
    raise SystemExit(0)


if __name__ == "__main__":
    run()
