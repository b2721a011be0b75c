"""Scale-out benchmark: what GPU workers in other processes add, and what the Redis path costs.

    python -m bench.scale_bench [--workers 1 2 3] [--jobs 24] [--steps 10] [--noop-jobs 10000]
                                [--owners 10] [--skip-throughput] [--skip-overhead]

Everything runs in one process tree: this process starts its own `redis-server` (AOF on,
`appendfsync everysec`, as the compose profile runs it) on 127.0.0.1 at a free port.

(a) Throughput: `--workers` worker processes (`python -m generation.worker`, the real entry point)
    on the tiny random-weight pipeline, on the CPU, each with one torch thread (`OMP_NUM_THREADS=1`,
    as each GPU worker owns one GPU; several workers each spinning a thread per core would fight
    over the cores instead of sharing them); this process submits `--jobs` same-shape jobs
    from as many users through `RedisJobQueue`, as the bot does, and waits for every outcome. The
    figure is jobs per minute from the first submission to the last outcome, with the ratio to one
    worker. Workers are started and their model loaded before the clock starts.
(b) Overhead: `--noop-jobs` jobs whose generation and encoding do nothing (a 1 KiB file), through
    the in-process queue (SQLite) and through Redis (the bot's `RedisJobQueue` and one `WorkerHost`
    in this process, so only the path differs); `--owners` users each keep one job in the line and
    submit the next when the previous ends. Per-job cost of each, and the ratio.

Prints figures only; no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import redis

from bench.queue_bench import NoOpGenerator
from generation.clock import SYSTEM_CLOCK
from generation.config import EngineSettings
from generation.queue.interface import JobCancelled, JobFailed, JobFinished, JobQueue, JobSpec
from generation.queue.local import LocalJobQueue
from generation.queue.redis.host import WorkerHost
from generation.queue.redis.queue import RedisJobQueue
from generation.queue.redis.source import RedisJobSource, SourceSettings
from generation.queue.redis.verbs import DEFAULT_PREFIX, QueueVerbs, connect
from generation.queue.settings import QueueSettings
from generation.request import VideoRequest
from generation.results import GeneratedClip, VideoFile

_KIB = b"\0" * 1024


def one_kib_encoder(clip: GeneratedClip, path: Path) -> VideoFile:
    """Writes 1 KiB where the video would go, so both paths move a file without encoding one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_KIB)
    request = clip.request
    return VideoFile(path, len(_KIB), request.width, request.height, request.num_frames, request.fps)


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A private `redis-server` with AOF on; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("needs redis-server (apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder.mkdir(parents=True, exist_ok=True)
    arguments = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder), "--save", ""]
    arguments += ["--appendonly", "yes", "--appendfsync", "everysec"]
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None:
                    raise SystemExit("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        process.terminate()
        process.wait()


def bot_side(url: str, settings: QueueSettings, output_dir: Path) -> RedisJobQueue:
    """The bot's side of the Redis queue, as `generation.queue_factory.create_redis_queue` builds it."""
    commands = QueueVerbs(connect(url), lease_s=settings.queue_lease_s)
    return RedisJobQueue(settings, commands, connect(url, decode=False), output_dir=output_dir)


async def outcomes(queue: JobQueue, specs: Sequence[JobSpec]) -> list[str]:
    """Submit `specs` at once and wait for each one's outcome; the outcomes' kinds."""

    async def one(spec: JobSpec) -> str:
        handle = await queue.submit(spec)
        async for event in handle.events():
            if isinstance(event, JobFinished | JobFailed | JobCancelled):
                return type(event).__name__
        return "no outcome"

    return list(await asyncio.gather(*(one(spec) for spec in specs)))


# -- (a) throughput ---------------------------------------------------------------------------------


def start_worker(url: str, name: str, model: Path, folder: Path) -> subprocess.Popen[bytes]:
    """`python -m generation.worker` on the CPU with the tiny pipeline."""
    env = os.environ | {
        "QUEUE_URL": url,
        "MODEL_ID": str(model),
        "DEVICE": "cpu",
        "TORCH_DTYPE": "float32",
        "OFFLOAD": "none",
        "WORKER_NAME": name,
        "OUTPUT_DIR": str(folder / name),
        "LOG_LEVEL": "WARNING",
        "OMP_NUM_THREADS": "1",
    }
    log = (folder / f"{name}.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "generation.worker"], env=env, stdout=log, stderr=log)


def ready_workers(url: str) -> set[str]:
    """Workers that heartbeat with their model loaded."""
    with redis.Redis.from_url(url, decode_responses=True) as client:
        names = client.zrange(f"{DEFAULT_PREFIX}workers", 0, -1)
        return {name for name in names if client.hget(f"{DEFAULT_PREFIX}worker:{name}", "model") == "ready"}


async def throughput(url: str, model: Path, folder: Path, workers: int, jobs: int, steps: int) -> float:
    """Jobs per minute with `workers` worker processes (each run in a Redis database of its own)."""
    url = f"{url.rsplit('/', 1)[0]}/{workers}"
    names = [f"gpu{n}" for n in range(workers)]
    processes = [start_worker(url, name, model, folder) for name in names]
    settings = QueueSettings(queue_url=url, queue_max_jobs=jobs + 10, queue_max_per_user=jobs)
    queue = bot_side(url, settings, folder / f"videos-{workers}")
    try:
        while not set(names) <= ready_workers(url):
            if any(process.poll() is not None for process in processes):
                raise SystemExit(f"a worker exited; see {folder}/gpu*.log")
            await asyncio.sleep(0.1)
        await queue.start()
        request = VideoRequest("a benchmark", steps=steps, num_frames=8, width=64, height=64, seed=1)
        specs = [JobSpec(request, owner_id=f"user{n}", group_id="bench") for n in range(jobs)]
        started = time.perf_counter()
        kinds = await outcomes(queue, specs)
        elapsed = time.perf_counter() - started
        if set(kinds) != {"JobFinished"}:
            raise SystemExit(f"not every job succeeded: {sorted(set(kinds))}")
        return jobs / elapsed * 60
    finally:
        await queue.close()
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()


# -- (b) overhead -----------------------------------------------------------------------------------


def noop_specs(jobs: int, owners: int) -> list[list[JobSpec]]:
    """Per owner, the specs it submits one after another."""
    request = VideoRequest("a benchmark", steps=1, num_frames=1, width=64, height=64, seed=1)
    return [[JobSpec(request, owner_id=f"user{o}", group_id="bench")] * (jobs // owners) for o in range(owners)]


async def per_job_us(queue: JobQueue, jobs: int, owners: int) -> float:
    """Microseconds per job, each owner keeping one job in the line."""

    async def owner(specs: list[JobSpec]) -> None:
        for spec in specs:
            await outcomes(queue, [spec])

    started = time.perf_counter()
    await asyncio.gather(*(owner(specs) for specs in noop_specs(jobs, owners)))
    return (time.perf_counter() - started) / (jobs // owners * owners) * 1e6


async def local_overhead(folder: Path, jobs: int, owners: int) -> float:
    settings = QueueSettings(database_path=folder / "noop.sqlite3", queue_max_jobs=owners + 10, queue_max_per_user=2)
    engine = EngineSettings(output_dir=folder / "local-videos")
    queue = LocalJobQueue(settings, engine, NoOpGenerator(), encoder=one_kib_encoder)
    await queue.start()
    try:
        return await per_job_us(queue, jobs, owners)
    finally:
        await queue.close()


async def redis_overhead(url: str, folder: Path, jobs: int, owners: int) -> float:
    settings = QueueSettings(queue_url=url, queue_max_jobs=owners + 10, queue_max_per_user=2)
    engine = EngineSettings(output_dir=folder / "worker-videos")
    queue = bot_side(url, settings, folder / "bot-videos")
    commands = QueueVerbs(connect(url), lease_s=settings.queue_lease_s)
    source_settings = SourceSettings("noop", settings.job_max_attempts, settings.eta_window, 3600)
    source = RedisJobSource(commands, connect(url, decode=False), source_settings, SYSTEM_CLOCK)
    host = WorkerHost(source, NoOpGenerator(), settings, engine, SYSTEM_CLOCK, encoder=one_kib_encoder)
    await queue.start()
    await host.start()
    try:
        return await per_job_us(queue, jobs, owners)
    finally:
        await host.close()
        await queue.close()


async def run(args: argparse.Namespace) -> None:
    from tests.fixtures.tiny_pipeline import build_tiny_pipeline

    with tempfile.TemporaryDirectory(prefix="scale-bench-") as name:
        folder = Path(name)
        with redis_server(folder / "redis") as url:
            if not args.skip_throughput:
                model = build_tiny_pipeline(folder / "tiny")
                print(f"(a) throughput: {args.jobs} jobs of {args.steps} steps, 8 frames 64x64, tiny pipeline on CPU")
                print(f"    {os.cpu_count()} CPUs; workers are processes of their own (python -m generation.worker)")
                baseline = None
                for workers in args.workers:
                    rate = await throughput(url, model, folder, workers, args.jobs, args.steps)
                    baseline = baseline or rate
                    print(f"    {workers} worker(s): {rate:6.1f} jobs/min  ({rate / baseline:.2f}x one worker)")
            if not args.skip_overhead:
                jobs, owners = args.noop_jobs, args.owners
                print(f"(b) per-job overhead: {jobs} no-op jobs, {owners} owners each keeping one in line")
                local = await local_overhead(folder, jobs, owners)
                print(f"    in-process (SQLite): {local:7.0f} µs per job")
                remote = await redis_overhead(url, folder, jobs, owners)
                print(f"    Redis:               {remote:7.0f} µs per job  ({remote / local:.2f}x in-process)")


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m bench.scale_bench`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--noop-jobs", type=int, default=10_000)
    parser.add_argument("--owners", type=int, default=10)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-overhead", action="store_true")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
