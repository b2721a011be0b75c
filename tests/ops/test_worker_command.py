"""`videobot-worker` (`python -m generation.worker`) as an operator meets it: settings from the
environment only, one line and a distinct status when it cannot start, registered and serving when it
can, and a clean exit on SIGTERM that hands back what it held."""

from __future__ import annotations

import asyncio
import itertools
import signal
from pathlib import Path

import redis.asyncio as redis
from pydantic import SecretStr

from generation.queue.interface import JobFinished
from generation.queue.redis.registry import read_workers
from generation.queue.settings import QueueSettings
from generation.worker import EXIT_CONFIG, EXIT_UNAVAILABLE, WorkerSettings, serve
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FakeGenerator
from tests.fakes.redis_queue import redis_queue
from tests.fixtures.redis_server import RedisServer
from tests.ops.entry_points import clean_environment, finish, run_module, start_module
from tests.patience import PATIENCE_S
from tests.queue.conftest import events_of, spec


async def registered(client: redis.Redis) -> None:
    """Until a worker is alive in the registry (how a test knows a worker process is up)."""
    for _ in itertools.count():
        if any(worker.alive for worker in await read_workers(client, "videobot:", 0.0, 1e12)):
            return
        await asyncio.sleep(0.05)  # between looks at the registry; the registry is the condition


def worker(folder: Path, **variables: str) -> tuple[int, list[str]]:
    """Run the worker in `folder` (no `.env`) to its end: its status and what it told the operator."""
    done = run_module("generation.worker", cwd=folder, env=clean_environment(**variables))
    return done.status, done.stderr_lines


def test_without_queue_url_the_worker_says_so_and_exits_78(tmp_path: Path) -> None:
    status, lines = worker(tmp_path)

    assert status == EXIT_CONFIG
    assert lines == [
        "error: QUEUE_URL is not set: a worker serves the queue in Redis (e.g. QUEUE_URL=redis://localhost:6379/0)"
    ]


def test_a_queue_url_that_is_not_redis_is_refused_with_exit_78(tmp_path: Path) -> None:
    status, lines = worker(tmp_path, QUEUE_URL="http://localhost:6379")

    assert status == EXIT_CONFIG
    assert lines == ["error: QUEUE_URL is invalid: must be a Redis URL: redis://host:6379/0 (or rediss://, unix://)"]


def test_a_redis_nobody_answers_at_is_one_line_and_exit_69(tmp_path: Path, redis_server: RedisServer) -> None:
    closed_port = redis_server.port + 1 if redis_server.port < 65535 else redis_server.port - 1

    status, lines = worker(tmp_path, QUEUE_URL=f"redis://127.0.0.1:{closed_port}/0")

    assert status == EXIT_UNAVAILABLE
    assert len(lines) == 1
    assert lines[0].startswith(f"error: cannot reach Redis at 127.0.0.1:{closed_port} (QUEUE_URL)")


async def test_the_worker_serves_jobs_and_on_stop_leaves_the_registry(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    url = redis_server.url.removesuffix("/0") + "/1"  # the worker's default prefix, in a database of its own
    settings = WorkerSettings(
        _env_file=None,  # type: ignore[call-arg]
        queue_url=SecretStr(url),
        worker_name="gpu-0",
        output_dir=tmp_path / "worker",
    )
    clock = FakeClock()
    bot = redis_queue(url, "videobot:", QueueSettings(_env_file=None), tmp_path / "bot", clock)  # type: ignore[call-arg]
    await bot.start()
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(settings, generator=FakeGenerator(clock=clock), clock=clock, stop=stop))
    try:
        events = await events_of(await bot.submit(spec("ann")))
        assert isinstance(events[-1], JobFinished)
        [registered] = (await bot.stats()).workers
        assert (registered.name, registered.alive, registered.jobs_done) == ("gpu-0", True, 1)
    finally:
        stop.set()
        await serving
    [gone] = (await bot.stats()).workers
    assert not gone.alive
    await bot.close()


async def test_a_worker_process_registers_then_exits_0_on_sigterm(
    redis_server: RedisServer, tmp_path: Path, tiny_model_dir: Path
) -> None:
    url = redis_server.url.removesuffix("/0") + "/2"
    env = clean_environment(
        QUEUE_URL=url, MODEL_ID=str(tiny_model_dir), DEVICE="cpu", TORCH_DTYPE="float32", OFFLOAD="none",
        WORKER_NAME="cpu-worker",
    )  # fmt: skip
    process = await start_module("generation.worker", cwd=tmp_path, env=env)
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        async with asyncio.timeout(2 * PATIENCE_S):  # a safety net: the condition is the worker in the registry
            await registered(client)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await finish(process)
    [stopped] = await read_workers(client, "videobot:", 0.0, 1e12)
    await client.aclose()

    assert process.returncode == 0, stderr.decode()[-2000:]
    assert (stopped.name, stopped.alive) == ("cpu-worker", False)
