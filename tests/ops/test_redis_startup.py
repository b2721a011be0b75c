"""The Redis of QUEUE_URL checked at start-up, against real `redis-server`s: refused credentials told apart
from nobody answering, and a Redis that may evict keys refused by the bot and by every worker."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bot.startup.problems import EXIT_CONFIG
from generation.queue.redis.startup import RedisTrouble, check_redis
from generation.worker import EXIT_UNAVAILABLE
from tests.fixtures.redis_server import RedisServer
from tests.ops.entry_points import TOKEN, clean_environment, run_module, run_module_async

PASSWORD = "sesame"
EVICTION_FIX = (
    "Fix: set maxmemory-policy noeviction on that Redis (`redis-server --maxmemory-policy noeviction`, "
    "`CONFIG SET maxmemory-policy noeviction` plus `CONFIG REWRITE`, or a managed Redis's parameter group)."
)


@pytest.fixture(scope="module")
def evicting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis with the default policy of several managed offerings: it evicts keys when memory is full."""
    server = RedisServer.start(tmp_path_factory.mktemp("lru"), options=["--maxmemory-policy", "allkeys-lru"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis that never evicts, with a password, and users whose ACLs forbid some of the checks."""
    server = RedisServer.start(tmp_path_factory.mktemp("guarded"), options=["--requirepass", PASSWORD])
    admin = redis.Redis(host="127.0.0.1", port=server.port, password=PASSWORD)
    admin.acl_setuser("no-config", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+ping", "+info"])
    admin.acl_setuser("blind", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+ping"])
    admin.acl_setuser("mute", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"], commands=["+get"])
    admin.close()
    yield server
    server.stop()


def url(server: RedisServer, credentials: str = "") -> str:
    return f"redis://{credentials}{'@' if credentials else ''}127.0.0.1:{server.port}/0"


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return int(listener.getsockname()[1])


async def test_a_redis_that_never_evicts_and_takes_the_credentials_is_fit(guarded: RedisServer) -> None:
    assert await check_redis(url(guarded, f":{PASSWORD}")) is None


async def test_an_evicting_redis_is_refused_naming_its_policy_and_the_fix(evicting: RedisServer) -> None:
    problem = await check_redis(url(evicting))

    assert problem is not None
    assert problem.trouble is RedisTrouble.EVICTION
    assert problem.line() == (
        f"Redis at 127.0.0.1:{evicting.port} has maxmemory-policy allkeys-lru: when its memory is full it deletes "
        f"keys, and with them waiting jobs and the queue's order, without telling anyone. {EVICTION_FIX}"
    )


async def test_a_wrong_password_is_refused_credentials_not_unreachable(guarded: RedisServer) -> None:
    problem = await check_redis(url(guarded, ":wrong"))

    assert problem is not None
    assert problem.trouble is RedisTrouble.CREDENTIALS
    assert problem.message.startswith(f"Redis at 127.0.0.1:{guarded.port} refused the credentials in QUEUE_URL")
    assert "wrong" not in problem.line()


async def test_no_password_where_one_is_required_is_refused_credentials(guarded: RedisServer) -> None:
    problem = await check_redis(url(guarded))

    assert problem is not None
    assert problem.trouble is RedisTrouble.CREDENTIALS
    assert "(no password)" in problem.message


async def test_a_user_whose_acl_forbids_ping_is_refused_credentials(guarded: RedisServer) -> None:
    problem = await check_redis(url(guarded, f"mute:{PASSWORD}"))

    assert problem is not None
    assert problem.trouble is RedisTrouble.CREDENTIALS
    assert "user mute's ACL forbids PING" in problem.message


async def test_where_config_get_is_forbidden_the_policy_is_read_from_info(guarded: RedisServer) -> None:
    assert await check_redis(url(guarded, f"no-config:{PASSWORD}")) is None


async def test_a_redis_that_answers_neither_config_nor_info_is_only_a_warning(guarded: RedisServer) -> None:
    problem = await check_redis(url(guarded, f"blind:{PASSWORD}"))

    assert problem is not None
    assert problem.trouble is RedisTrouble.EVICTION_UNKNOWN
    assert not problem.trouble.fatal


async def test_nobody_answering_is_unreachable_with_a_fix() -> None:
    port = closed_port()

    problem = await check_redis(f"redis://127.0.0.1:{port}/0")

    assert problem is not None
    assert problem.trouble is RedisTrouble.UNREACHABLE
    assert problem.message.startswith(f"cannot reach Redis at 127.0.0.1:{port} (QUEUE_URL)")
    assert problem.fix.startswith("start Redis, or correct QUEUE_URL")


def test_a_worker_refuses_an_evicting_redis_with_one_line_and_exit_78(evicting: RedisServer, tmp_path: Path) -> None:
    done = run_module("generation.worker", cwd=tmp_path, env=clean_environment(QUEUE_URL=url(evicting)))

    assert done.status == EXIT_CONFIG
    (line,) = done.stderr_lines
    assert line.startswith(f"error: Redis at 127.0.0.1:{evicting.port} has maxmemory-policy allkeys-lru")
    assert line.endswith(EVICTION_FIX)


def test_a_worker_with_a_wrong_password_says_so_and_exits_78(guarded: RedisServer, tmp_path: Path) -> None:
    done = run_module("generation.worker", cwd=tmp_path, env=clean_environment(QUEUE_URL=url(guarded, ":wrong")))

    assert done.status == EXIT_CONFIG
    (line,) = done.stderr_lines
    assert line.startswith(f"error: Redis at 127.0.0.1:{guarded.port} refused the credentials in QUEUE_URL")


def test_a_worker_finding_nobody_at_queue_url_exits_69_with_a_fix(tmp_path: Path) -> None:
    done = run_module(
        "generation.worker", cwd=tmp_path, env=clean_environment(QUEUE_URL=f"redis://127.0.0.1:{closed_port()}/0")
    )

    assert done.status == EXIT_UNAVAILABLE
    (line,) = done.stderr_lines
    assert " Fix: start Redis, or correct QUEUE_URL in .env or the environment (redis://host:6379/0)." in line


async def test_the_bot_refuses_an_evicting_redis_before_it_tries_discord(evicting: RedisServer, tmp_path: Path) -> None:
    # Discord is out of reach: were it checked first, the bot would retry it for ever.
    env = clean_environment(
        DISCORD_TOKEN=TOKEN, DISCORD_API_URL=f"http://127.0.0.1:{closed_port()}/api/v10", QUEUE_URL=url(evicting)
    )

    done = await run_module_async("bot", cwd=tmp_path, env=env)

    assert done.status == EXIT_CONFIG
    (line,) = done.stderr_lines
    assert f" ERROR    bot: Redis at 127.0.0.1:{evicting.port} has maxmemory-policy allkeys-lru" in line
    assert line.endswith(EVICTION_FIX)


async def test_the_bot_says_refused_credentials_before_it_tries_discord(guarded: RedisServer, tmp_path: Path) -> None:
    env = clean_environment(
        DISCORD_TOKEN=TOKEN, DISCORD_API_URL=f"http://127.0.0.1:{closed_port()}/api/v10", QUEUE_URL=url(guarded)
    )

    done = await run_module_async("bot", cwd=tmp_path, env=env)

    assert done.status == EXIT_CONFIG
    (line,) = done.stderr_lines
    assert (
        f" ERROR    bot: Redis at 127.0.0.1:{guarded.port} refused the credentials in QUEUE_URL (no password)" in line
    )
