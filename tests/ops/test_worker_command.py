"""`videobot-worker` (`python -m generation.worker`) as an operator meets it: settings from the
environment only, one line and a distinct status when it cannot start, registered and serving when it
can, and a clean exit on SIGTERM that hands back what it held."""

from __future__ import annotations

import asyncio
import shutil
import signal
from pathlib import Path

import pytest
import redis.asyncio as redis
from pydantic import SecretStr
from redis import Redis as SyncRedis

from generation.profiles import PROFILES
from generation.queue.interface import JobFinished, ServedModel
from generation.queue.redis.registry import read_workers
from generation.queue.settings import QueueSettings
from generation.request import check_model_name
from generation.worker import EXIT_CONFIG, EXIT_UNAVAILABLE, WorkerSettings, serve
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FakeGenerator
from tests.fakes.redis_queue import redis_queue
from tests.fixtures.redis_server import RedisServer
from tests.ops.entry_points import clean_environment, finish, read_until, run_module, start_module
from tests.queue.conftest import events_of, spec


def registry_keys(url: str) -> list[bytes]:
    """The worker registry's keys in the database of `url` (a worker that registered leaves them)."""
    with SyncRedis.from_url(url) as client:
        keys: list[bytes] = client.keys("{videobot}:worker*")
        return keys


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
    bot = redis_queue(url, "{videobot}:", QueueSettings(_env_file=None), tmp_path / "bot", clock)  # type: ignore[call-arg]
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


async def test_the_worker_advertises_its_model_name_and_profile_and_runs_the_jobs_naming_it(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    url = redis_server.url.removesuffix("/0") + "/6"  # a database of its own: the registry-key checks read theirs
    settings = WorkerSettings(
        _env_file=None,  # type: ignore[call-arg]
        queue_url=SecretStr(url),
        model_profile="ltx-video",
        model_name="fast",
        output_dir=tmp_path / "worker",
    )
    clock = FakeClock()
    bot = redis_queue(url, "{videobot}:", QueueSettings(_env_file=None), tmp_path / "bot", clock)  # type: ignore[call-arg]
    await bot.start()
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(settings, generator=FakeGenerator(clock=clock), clock=clock, stop=stop))
    try:
        events = await events_of(await bot.submit(spec("ann", model="fast")))
        assert isinstance(events[-1], JobFinished)
        assert await bot.models() == (ServedModel("fast", PROFILES["ltx-video"], 1),)
    finally:
        stop.set()
        await serving
    assert await bot.models() == (ServedModel("fast", PROFILES["ltx-video"], 0),)  # stopped: listed, no worker
    await bot.close()


def test_a_worker_serves_its_model_under_its_profiles_name_unless_model_name_says_otherwise() -> None:
    unnamed = WorkerSettings(_env_file=None, model_profile="wan2.1-t2v-1.3b")  # type: ignore[call-arg]
    named = WorkerSettings(_env_file=None, model_profile="wan2.1-t2v-1.3b", model_name="draft")  # type: ignore[call-arg]

    assert (unnamed.served_name(), named.served_name()) == ("wan2.1-t2v-1.3b", "draft")


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_shipped_profiles_name_may_be_a_workers_default_model_name(profile: str) -> None:
    assert check_model_name(profile) == profile


def test_a_model_name_that_is_not_one_is_refused_with_exit_78(tmp_path: Path) -> None:
    status, lines = worker(tmp_path, QUEUE_URL="redis://127.0.0.1:1/0", MODEL_NAME="fast/../draft")

    assert status == EXIT_CONFIG
    assert lines == [
        "error: MODEL_NAME is invalid: must be 1-32 letters, digits, '-' or '.', starting with a letter or digit "
        "(got 'fast/../draft')"
    ]


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
        # Read as it comes: a full stderr pipe (`-X importtime` in the model's process too) would stall it.
        await read_until(process, "worker ready")
        [running] = await read_workers(client, "{videobot}:", 0.0, 1e12)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await finish(process)
    [stopped] = await read_workers(client, "{videobot}:", 0.0, 1e12)
    await client.aclose()

    assert process.returncode == 0, stderr.decode()[-2000:]
    assert (running.name, running.alive, running.model_ready) == ("cpu-worker", True, True)
    assert (stopped.name, stopped.alive) == ("cpu-worker", False)


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_answer_whatever_the_settings_without_starting_a_worker(tmp_path: Path, flag: str) -> None:
    # A Redis nobody answers at: were a worker started, it would say so and exit 69.
    done = run_module("generation.worker", flag, cwd=tmp_path, env=clean_environment(QUEUE_URL="redis://127.0.0.1:1/0"))

    assert (done.status, done.stderr) == (0, "")
    assert done.stdout.startswith("usage: videobot-worker" if flag == "--help" else "videobot-worker ")
    assert not done.imported & {"torch", "diffusers"}


def test_the_help_lists_the_worker_settings(tmp_path: Path) -> None:
    done = run_module("generation.worker", "--help", cwd=tmp_path, env=clean_environment())

    assert "  QUEUE_URL " in done.stdout
    assert "  WORKER_NAME " in done.stdout


def test_a_typo_in_the_environment_is_a_warning_naming_the_setting_meant(tmp_path: Path) -> None:
    status, lines = worker(tmp_path, QUEUE_ULR="redis://localhost:6379/0")

    assert status == EXIT_CONFIG
    assert lines[0] == (
        "warning: QUEUE_ULR is set in the environment, but it is not a videobot setting, so it has no effect. "
        "Fix: did you mean QUEUE_URL? Rename it."
    )
    assert lines[1].startswith("error: QUEUE_URL is not set")


def test_a_typo_in_the_workers_env_file_is_a_warning_but_the_bots_settings_there_are_not(tmp_path: Path) -> None:
    # One .env for the bot and its workers is the compose file's way: the bot's names are no typo.
    (tmp_path / ".env").write_text("DISCORD_TOKEN=x\nMAX_STEPS=50\nMODLE_ID=acme/model\n")

    status, lines = worker(tmp_path)

    assert status == EXIT_CONFIG
    assert lines == [
        "warning: MODLE_ID in .env is not a videobot setting, so it has no effect outside Docker. "
        "Fix: did you mean MODEL_ID? Rename it.",
        "error: QUEUE_URL is not set: a worker serves the queue in Redis (e.g. QUEUE_URL=redis://localhost:6379/0)",
    ]


def test_a_model_folder_that_does_not_exist_is_one_line_and_exit_78_before_registering(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    url = redis_server.url.removesuffix("/0") + "/3"

    status, lines = worker(tmp_path, QUEUE_URL=url, MODEL_ID=str(tmp_path / "nowhere"), DEVICE="cpu")

    assert status == EXIT_CONFIG
    assert lines == [
        f"error: MODEL_ID: {str(tmp_path / 'nowhere')!r} is not a folder on this machine. Fix: point MODEL_ID at "
        "a folder saved with `pipeline.save_pretrained()`, or at a Hub model id."
    ]
    assert not registry_keys(url)


def test_offline_with_the_model_not_cached_is_one_line_and_exit_78(redis_server: RedisServer, tmp_path: Path) -> None:
    status, lines = worker(
        tmp_path, QUEUE_URL=redis_server.url, MODEL_ID="acme/not-cached", HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path)
    )

    assert status == EXIT_CONFIG
    assert len(lines) == 1
    assert lines[0].startswith("error: MODEL_ID: Model 'acme/not-cached' is not in the Hugging Face cache at ")


def test_a_model_that_does_not_load_is_one_line_and_exit_78_before_registering(
    redis_server: RedisServer, tmp_path: Path, tiny_model_dir: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    for weights in (broken / "unet").glob("*.safetensors"):
        weights.write_bytes(b"not weights")
    url = redis_server.url.removesuffix("/0") + "/4"

    status, lines = worker(
        tmp_path, QUEUE_URL=url, MODEL_ID=str(broken), DEVICE="cpu", TORCH_DTYPE="float32", OFFLOAD="none"
    )

    assert status == EXIT_CONFIG
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: MODEL_ID={broken}: the model could not be loaded: ")
    assert "Traceback" not in "\n".join(lines)
    assert "worker ready" not in "\n".join(lines)
    assert not registry_keys(url)


async def test_a_worker_stopped_while_its_model_loads_leaves_without_registering(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    url = redis_server.url.removesuffix("/0") + "/5"
    settings = WorkerSettings(_env_file=None, queue_url=SecretStr(url), worker_name="slow", output_dir=tmp_path)  # type: ignore[call-arg]
    generator = FakeGenerator(hold_load=True)
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(settings, generator=generator, stop=stop))
    await generator.loading.arrived()

    stop.set()
    generator.loading.open()  # a fake cannot be halted: its load ends, and the stop still wins
    await serving

    assert generator.loading.passed == 1
    assert not registry_keys(url)
