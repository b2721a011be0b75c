"""The shipped `users.acl` runs the fleet, and keeps each of its users to the queue's keys and commands.

A real `redis-server` loads the very file the compose profile mounts; the bot and a worker connect with
the `QUEUE_URL`s of `docker-compose.yml` (the host swapped for the test's server) and run a job with a
picture end to end. The worker's user is then refused everything outside the `{videobot}:` prefix and
every command that could take Redis down or change its rules.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
import yaml
from redis.exceptions import NoPermissionError

from generation.queue.interface import JobFinished
from generation.queue.redis.verbs import DEFAULT_PREFIX
from generation.queue.settings import QueueSettings
from tests.fakes.clock import FakeClock
from tests.fixtures.redis_server import RedisServer
from tests.queue.conftest import picture_job_through_redis

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def compose_url(server: RedisServer, *, worker: bool) -> str:
    """The service's `QUEUE_URL` in docker-compose.yml, pointed at the test's server."""
    service = compose()["x-gpu-worker"] if worker else compose()["services"]["bot-nogpu"]
    url: str = service["environment"]["QUEUE_URL"]
    return url.replace("@redis:6379/", f"@127.0.0.1:{server.port}/")


@pytest.fixture
def acl_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server on the shipped users.acl (a copy: Redis may rewrite its file on `ACL SAVE`)."""
    acl = tmp_path / "users.acl"
    shutil.copy(ROOT / "users.acl", acl)
    server = RedisServer.start(tmp_path / "redis", options=["--aclfile", str(acl)])
    yield server
    server.stop()


@pytest.fixture
async def as_worker(acl_server: RedisServer) -> AsyncIterator[redis.Redis]:
    """A plain client logged in as the workers' user."""
    client = redis.Redis.from_url(compose_url(acl_server, worker=True))
    yield client
    await client.aclose()


def test_the_compose_profiles_redis_loads_the_shipped_users_acl() -> None:
    service = compose()["services"]["redis"]
    assert "./users.acl:/etc/redis/users.acl:ro" in service["volumes"]
    assert service["command"][-2:] == ["--aclfile", "/etc/redis/users.acl"]


async def test_the_bot_and_a_worker_run_a_job_end_to_end_as_their_own_users(
    acl_server: RedisServer, queue_settings: QueueSettings, clock: FakeClock, tmp_path: Path
) -> None:
    urls = (compose_url(acl_server, worker=False), compose_url(acl_server, worker=True))
    finished = await picture_job_through_redis(urls, DEFAULT_PREFIX, queue_settings, clock, tmp_path)

    assert isinstance(finished, JobFinished)
    assert finished.result.video.path.read_bytes()


Refused = Callable[[redis.Redis], Awaitable[Any]]
REFUSED: dict[str, Refused] = {
    "read a key outside the prefix": lambda client: client.get("other-app:secret"),
    "write a key outside the prefix": lambda client: client.set("other-app:secret", "x"),
    "touch a key outside the prefix from a script": lambda client: client.eval(
        "return redis.call('GET', 'other-app:secret')", 0
    ),
    "publish outside the prefix": lambda client: client.publish("other-app:news", "x"),
    "FLUSHALL": lambda client: client.flushall(),
    "FLUSHDB": lambda client: client.flushdb(),
    "CONFIG SET": lambda client: client.config_set("maxmemory-policy", "allkeys-lru"),
    "KEYS": lambda client: client.keys("*"),
    "ACL SETUSER": lambda client: client.acl_setuser("videobot-worker", enabled=True, commands=["+@all"]),
    "SCRIPT FLUSH": lambda client: client.script_flush(),
    "SHUTDOWN": lambda client: client.execute_command("SHUTDOWN"),
    "CLIENT KILL": lambda client: client.execute_command("CLIENT", "KILL", "TYPE", "normal"),
}


@pytest.mark.parametrize("what", REFUSED)
async def test_the_workers_user_may_not(as_worker: redis.Redis, what: str) -> None:
    with pytest.raises(redis.ResponseError) as refused:
        await REFUSED[what](as_worker)
    # NOPERM comes back as NoPermissionError; a script's refused call, as the script's error.
    assert isinstance(refused.value, NoPermissionError) or "can't access" in str(refused.value)


async def test_both_users_may_read_what_the_start_up_check_reads(acl_server: RedisServer) -> None:
    for worker in (False, True):
        client = redis.Redis.from_url(compose_url(acl_server, worker=worker), decode_responses=True)
        try:
            assert (await client.config_get("maxmemory-policy")) == {"maxmemory-policy": "noeviction"}
            assert "maxmemory_policy" in await client.info("memory")
        finally:
            await client.aclose()


async def test_a_client_without_a_user_may_only_ping(acl_server: RedisServer) -> None:
    client = redis.Redis.from_url(acl_server.url)
    try:
        assert await client.ping()
        with pytest.raises(NoPermissionError):
            await client.get(f"{DEFAULT_PREFIX}sched")
    finally:
        await client.aclose()
