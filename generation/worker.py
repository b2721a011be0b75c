"""`videobot-worker` / `python -m generation.worker`: one GPU worker serving the queue in Redis.

Configured like the bot's engine, from the environment or `.env`, with no arguments: `QUEUE_URL`
(required here), `MODEL_ID`, `DEVICE`, `OFFLOAD`, `MAX_BATCH_SIZE`, ... and `WORKER_NAME` (default
host-pid-device). Run one per GPU (`DEVICE=cuda:N`, or `CUDA_VISIBLE_DEVICES`). It serves its model
under `MODEL_NAME` (default: the profile's name): it runs the jobs that ask for that name, and those
that name none.

It registers in Redis (`workers` zset, `worker:{name}` hash: host, GPU, model state, current jobs, jobs
done, last heartbeat, and the model it serves: its public name and its profile's name), takes jobs in
the fair order, runs them with the engine in a child process (as the bot's in-process queue does),
stores each MP4 in Redis for the bot and heartbeats every `QUEUE_LEASE_S / 3`. SIGTERM or SIGINT: it
takes nothing more, lets the running call finish within `SHUTDOWN_GRACE_S`, hands back what it still
holds, leaves the registry and exits 0.

`--help` lists the settings and `--version` answers, whatever the settings. Start-up checks everything
before the worker says "worker ready" and takes a job: a name in the environment or `.env` that looks
like a setting's typo is a warning; the rest is one line on stderr, with its fix, and a distinct exit
status: 78 for a setting to change (`QUEUE_URL` missing or not a redis:// URL, any invalid setting,
credentials Redis refuses, a Redis that evicts keys, a model that cannot be found or loaded), 69 when
Redis cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import redis.asyncio as redis
from pydantic import Field, ValidationError, field_validator

from generation.clock import SYSTEM_CLOCK, Clock
from generation.config import EngineSettings, settings_parser, stray_names
from generation.errors import InvalidRequestError, shown
from generation.hub_environment import export_hub_settings
from generation.process_generator import ProcessGenerator
from generation.protocol import Haltable, VideoGenerator
from generation.queue.redis.host import WorkerHost
from generation.queue.redis.source import RedisJobSource, SourceSettings
from generation.queue.redis.startup import RedisTrouble, check_redis
from generation.queue.redis.verbs import QueueVerbs, connect
from generation.queue.settings import QueueSettings
from generation.queue_factory import diffusers_generator
from generation.request import check_model_name

log = logging.getLogger(__name__)

EXIT_CONFIG: Final = 78
"""A setting the operator must change (sysexits.h EX_CONFIG), as the bot's start-up checks use."""
EXIT_UNAVAILABLE: Final = 69
"""Redis could not be reached (sysexits.h EX_UNAVAILABLE)."""
_MODEL_FIX: Final = (
    "set MODEL_ID to a model this host can load (a Hub id such as damo-vilab/text-to-video-ms-1.7b, or a "
    "pipeline folder), and MODEL_PROFILE to fit it; offline, fetch it first with `python -m generation download`"
)


class WorkerSettings(EngineSettings, QueueSettings):
    """The engine and queue settings a worker uses, its name in the registry and its model's public name."""

    worker_name: str | None = Field(
        None, description="videobot-worker only: this worker's name in /videoadmin stats (default: host-pid-device)"
    )
    model_name: str | None = Field(
        None,
        description=(
            "videobot-worker only: the public name members pick this worker's model by (1-32 letters, digits, "
            "'-' or '.'); workers of one name serve one model; default: the profile's name"
        ),
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    @field_validator("model_name", mode="before")
    @classmethod
    def _check_model_name(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str):
            try:
                return check_model_name(value.strip())
            except InvalidRequestError as error:
                raise ValueError(f"must be {error.allowed} (got {shown(value)})") from None
        return value

    def name(self) -> str:
        """`WORKER_NAME`, or host-pid-device."""
        return self.worker_name or f"{socket.gethostname()}-{os.getpid()}-{self.device}"

    def served_name(self) -> str:
        """`MODEL_NAME`, or the profile's name: the name this worker's jobs ask for."""
        return self.model_name or self.profile.name


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
    """A client for `url` once Redis answered and was found fit for the queue; raises `StartupError` for
    a bad URL, refused credentials or an evicting Redis (78), or no answer (69)."""
    problem = await check_redis(url)
    if problem is not None and problem.trouble.fatal:
        status = EXIT_UNAVAILABLE if problem.trouble is RedisTrouble.UNREACHABLE else EXIT_CONFIG
        raise StartupError(problem.line(), status)
    if problem is not None:
        log.warning("%s", problem.line())
    return connect(url)


async def load_model(generator: VideoGenerator, settings: EngineSettings, stop: asyncio.Event) -> bool:
    """Load the model before the worker registers, so a worker that cannot run jobs never takes one.

    False when `stop` came first (the load is halted); raises `StartupError` (78) when it fails.
    """
    # What can be told without loading (a missing folder, not cached while offline) is told at once.
    from generation.download import find_model_problem

    problem = find_model_problem(settings)
    if problem is not None:
        raise StartupError(str(problem), EXIT_CONFIG)
    loading = asyncio.ensure_future(asyncio.to_thread(generator.load))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({loading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if stop.is_set():
        if not loading.done() and isinstance(generator, Haltable):  # a model process is killed; else it ends
            generator.halt()
        await asyncio.gather(loading, return_exceptions=True)
        return False
    error = loading.exception()
    if error is not None:
        reason = str(error).splitlines()[0].rstrip(".") if str(error) else type(error).__name__
        raise StartupError(
            f"MODEL_ID={settings.model_id}: the model could not be loaded: {reason}. Fix: {_MODEL_FIX}.", EXIT_CONFIG
        )
    log.info("model loaded load_s=%.1f", loading.result())
    return True


async def serve(
    settings: WorkerSettings,
    *,
    generator: VideoGenerator | None = None,
    clock: Clock = SYSTEM_CLOCK,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve jobs until `stop` is set (SIGTERM/SIGINT by default), then hand back and leave.

    Redis is checked and the model loaded first; `StartupError` says what stopped either.
    """
    assert settings.queue_url is not None
    url = settings.queue_url.get_secret_value()
    client = await open_redis(url)
    if generator is None:
        generator = owned = ProcessGenerator(
            functools.partial(diffusers_generator, settings),
            max_batch_size=settings.max_batch_size,
        )
    else:
        owned = None
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    try:
        loaded = await load_model(generator, settings, stop)
    except StartupError:
        await client.aclose()
        if owned is not None:  # its model process ends now, not killed at exit with its resources
            await asyncio.to_thread(owned.close)
        raise
    if not loaded:
        await client.aclose()
        log.info("worker stopped before its model loaded")
        return
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

    commands = QueueVerbs(client, lease_s=settings.queue_lease_s)
    source_settings = SourceSettings(
        name,
        settings.job_max_attempts,
        settings.eta_window,
        int(settings.queue_video_ttl_h * 3600),
        image_dir=settings.output_dir / "images",
        model=settings.served_name(),
        profile=settings.profile.name,
    )
    source = RedisJobSource(commands, connect(url, decode=False), source_settings, clock, describe=describe)
    host = WorkerHost(source, generator, settings, settings, clock)
    hosts.append(host)
    await host.start()
    log.info(
        "worker ready name=%s serves=%s profile=%s model=%s device=%s",
        name, settings.served_name(), settings.profile.name, settings.model_id, settings.device,
    )  # fmt: skip
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


def run(argv: Sequence[str] | None = None) -> None:
    """Entry point of `videobot-worker` and `python -m generation.worker`; `argv` defaults to `sys.argv[1:]`."""
    _parser().parse_args(argv)
    for stray in stray_names(
        WorkerSettings.model_fields, env_file=Path(".env"), environ=os.environ, whole_env_file=False
    ):
        print(f"warning: {stray.message} Fix: {stray.fix}.", file=sys.stderr)
    try:
        settings = load_settings()
        logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
        export_hub_settings(settings)
        asyncio.run(serve(settings))
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(error.status) from None
    raise SystemExit(0)


def _parser() -> argparse.ArgumentParser:
    return settings_parser(
        "videobot-worker",
        (
            "Serve the videobot queue in Redis (QUEUE_URL) on one GPU. Settings come from the environment "
            "and from .env in the current folder (the environment wins); a mistake ends it with one line "
            f"and exit status {EXIT_CONFIG} ({EXIT_UNAVAILABLE} when Redis cannot be reached)."
        ),
        WorkerSettings.model_fields,
    )


if __name__ == "__main__":
    run()
