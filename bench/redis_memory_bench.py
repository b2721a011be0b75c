"""Redis memory benchmark: what the queue keeps in Redis per job, and how fast users hear that Redis lost it.

    python -m bench.redis_memory_bench [--jobs 500] [--video-kib 2048] [--lost-jobs 100] [--lease-s 3] [--daily-quota 0]

This process starts its own `redis-server` (no persistence) on 127.0.0.1 at a free port and drives the
real classes: the bot's `RedisJobQueue` and one `WorkerHost` in this process, whose generator and
encoder do nothing but write `--video-kib` of random (incompressible, as an MP4 is) bytes per video.

(a) Memory, from `INFO memory`'s `used_memory` before and after, divided by `--jobs` (each from its own
    user, so the fair order moves no one and each submission adds one event):
    - a waiting job: its record, its own events stream, its place in line, its entry in `events`;
    - a finished video nobody fetched yet (the bot is down): the MP4's bytes plus what the ending adds;
    - the same job once the bot fetched and delivered it (the MP4 is deleted from Redis);
    - an entry of the global `events` stream (`MEMORY USAGE` of the stream / its length), and so the
      stream's ceiling at 100,000 entries.
(b) Lost data: `--lost-jobs` jobs wait, watched as the bot watches them; Redis is stopped and started
    empty on its port; the figure is the time from Redis answering again to the last job's terminal
    event, with the bot's tick every `--lease-s / 3` s (detection waits for the tick: up to one interval).

Prints figures only; no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import redis

from bench.queue_bench import NoOpGenerator
from generation.clock import SYSTEM_CLOCK
from generation.config import EngineSettings
from generation.queue.allowance import Allowance
from generation.queue.interface import JobCancelled, JobFailed, JobFinished, JobSpec
from generation.queue.redis.host import WorkerHost
from generation.queue.redis.queue import RedisJobQueue
from generation.queue.redis.source import RedisJobSource, SourceSettings
from generation.queue.redis.verbs import DEFAULT_PREFIX, QueueVerbs, connect
from generation.queue.settings import QueueSettings
from generation.request import VideoRequest
from generation.results import GeneratedClip, VideoFile


class Server:
    """A private `redis-server` without persistence: `restart` brings it back empty on the same port."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("needs redis-server (apt-get install redis-server)")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        folder.mkdir(parents=True, exist_ok=True)
        self._arguments = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(folder)]
        self._arguments += ["--save", "", "--appendonly", "no"]
        self._process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._process = subprocess.Popen(self._arguments, stdout=subprocess.DEVNULL)
        with redis.Redis(port=self.port) as client:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self._process.poll() is not None:
                        raise SystemExit("redis-server did not start") from None
                    time.sleep(0.01)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait()

    def used_memory(self) -> int:
        with redis.Redis(port=self.port) as client:
            return int(cast(dict[str, int], client.info("memory"))["used_memory"])


def random_encoder(size: int):  # type: ignore[no-untyped-def]
    """An encoder that writes `size` random bytes: an MP4 compresses no further, and neither do these."""

    def encode(clip: GeneratedClip, path: Path) -> VideoFile:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        request = clip.request
        return VideoFile(path, size, request.width, request.height, request.num_frames, request.fps)

    return encode


def until_ended(client: redis.Redis, jobs: int) -> None:
    """Block until `jobs` terminal events are in the events stream (read as the bot's pump reads it)."""
    cursor, ended = "0-0", 0
    while ended < jobs:
        for _, entries in cast(
            list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
            client.xread({f"{DEFAULT_PREFIX}events": cursor}, block=1000),
        ):
            for entry_id, fields in entries:
                cursor = entry_id.decode()
                ended += fields[b"kind"] in (b"finished", b"failed", b"cancelled")


def specs(count: int, daily_quota: int = 0) -> list[JobSpec]:
    """One small job per user (a typical prompt's length); with `daily_quota`, each under a quota of their
    own in server 1, as the bot keys them."""
    request = VideoRequest("a red fox running through fresh snow at dawn, cinematic", width=64, height=64, steps=3)
    owners = [f"{100000000000000000 + n}" for n in range(count)]
    return [
        JobSpec(
            request, owner_id=owner, group_id="1", context="{}",
            allowance=Allowance(quota_key=f"1:{owner}", daily_quota=daily_quota) if daily_quota else Allowance(),
        )
        for owner in owners
    ]  # fmt: skip


def bot(url: str, settings: QueueSettings, folder: Path) -> RedisJobQueue:
    """The bot's side, as `generation.queue_factory.create_redis_queue` builds it."""
    commands = QueueVerbs(connect(url), lease_s=settings.queue_lease_s)
    return RedisJobQueue(settings, commands, connect(url, decode=False), output_dir=folder / "bot")


def worker(url: str, settings: QueueSettings, folder: Path, video_bytes: int) -> WorkerHost:
    """One worker in this process, as `generation.worker` builds it."""
    commands = QueueVerbs(connect(url), lease_s=settings.queue_lease_s)
    source_settings = SourceSettings("bench", settings.job_max_attempts, settings.eta_window, 3600)
    source = RedisJobSource(commands, connect(url, decode=False), source_settings, SYSTEM_CLOCK)
    engine = EngineSettings(output_dir=folder / "worker")
    return WorkerHost(source, NoOpGenerator(), settings, engine, SYSTEM_CLOCK, encoder=random_encoder(video_bytes))


async def memory(server: Server, folder: Path, jobs: int, video_bytes: int, daily_quota: int = 0) -> None:
    """Part (a)."""
    settings = QueueSettings(queue_max_jobs=jobs, queue_max_per_user=1, video_retention_h=0)
    client = redis.Redis(port=server.port)
    before = server.used_memory()
    first = bot(server.url, settings, folder)
    await first.start()
    baseline = server.used_memory()  # the bot's own keys (its cursor), before any job
    handles = [await first.submit(spec) for spec in specs(jobs, daily_quota)]
    waiting = server.used_memory()
    sample = handles[-1].info.job_id
    record, own_events = (cast(int, client.memory_usage(f"{DEFAULT_PREFIX}{key}{sample}")) for key in ("job:", "ev:"))
    quota = client.memory_usage(f"{DEFAULT_PREFIX}quota:{handles[-1].info.spec.allowance.quota_key}") or 0
    await first.close()

    host = worker(server.url, settings, folder, video_bytes)
    await host.start()
    await asyncio.to_thread(until_ended, client, jobs)
    await host.close()
    unfetched = server.used_memory()
    video_key = next(client.scan_iter(f"{DEFAULT_PREFIX}video:*"))
    video = client.memory_usage(video_key) or 0

    second = bot(server.url, settings, folder)
    await second.start()
    for handle in handles:
        async for event in second.watch(handle.info.job_id):
            if isinstance(event, JobFinished | JobFailed | JobCancelled):
                break
    delivered = server.used_memory()
    stream = (client.memory_usage(f"{DEFAULT_PREFIX}events") or 0) / client.xlen(f"{DEFAULT_PREFIX}events")
    await second.close()
    client.close()

    quotas = f", each under a daily quota of {daily_quota}" if daily_quota else ""
    print(f"(a) Redis memory, {jobs} jobs from {jobs} users{quotas}, MP4s of {video_bytes / 1024:.0f} KiB")
    print(f"    the bot started, no job yet: {baseline - before:>12,} B")
    print(f"    per waiting job:             {(waiting - baseline) / jobs:>12,.0f} B", end="")
    print(f" (MEMORY USAGE of one: its record {record:,} B, its own events {own_events:,} B", end="")
    print(f", its member's quota {quota:,} B)" if daily_quota else ")")
    per_video = (unfetched - waiting) / jobs
    print(f"    per finished, unfetched job: {per_video:>12,.0f} B more, of which its MP4's key {video:,} B")
    per_delivered = (delivered - baseline) / jobs
    print(f"    per delivered job:           {per_delivered:>12,.0f} B (MP4 deleted; kept until acked + 7 days)")
    ceiling = stream * 100_000 / 2**20
    print(f"    per entry of `events`:       {stream:>12,.0f} B -> {ceiling:,.1f} MiB at its 100,000 cap")


async def lost(server: Server, folder: Path, jobs: int, lease_s: float) -> None:
    """Part (b)."""
    server.stop()
    server.start()  # empty: no job of part (a) is owed here
    settings = QueueSettings(queue_max_jobs=jobs, queue_max_per_user=1, queue_lease_s=lease_s, video_retention_h=0)
    queue = bot(server.url, settings, folder / "lost")
    await queue.start()
    handles = [await queue.submit(spec) for spec in specs(jobs)]
    ended: list[float] = []

    async def follow(job_id: str) -> None:
        async for event in queue.watch(job_id):
            if isinstance(event, JobFinished | JobFailed | JobCancelled):
                ended.append(time.monotonic())

    watchers = [asyncio.create_task(follow(handle.info.job_id)) for handle in handles]
    await asyncio.sleep(0.2)  # the watchers reach their feeds (a bench: the figure does not depend on it)
    server.stop()
    server.start()
    back = time.monotonic()
    await asyncio.gather(*watchers)
    await queue.close()
    print(f"(b) Redis restarted empty under {jobs} waiting jobs, bot tick every {lease_s / 3:.1f} s:")
    print(f"    first user told {min(ended) - back:.3f} s, last {max(ended) - back:.3f} s after Redis answered again")


async def main(arguments: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--video-kib", type=int, default=2048)
    parser.add_argument("--lost-jobs", type=int, default=100)
    parser.add_argument("--lease-s", type=float, default=3.0)
    parser.add_argument("--daily-quota", type=int, default=0, help="each user's daily quota (0: none, as by default)")
    options = parser.parse_args(arguments)
    logging.basicConfig(level=logging.ERROR)  # part (b)'s one line per lost job is for operators, not here
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        server = Server(folder / "redis")
        try:
            await memory(server, folder, options.jobs, options.video_kib * 1024, options.daily_quota)
            await lost(server, folder, options.lost_jobs, options.lease_s)
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
