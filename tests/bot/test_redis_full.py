"""A `/video` that a Redis out of memory (`noeviction`) refuses: the user is told in private that the
queue cannot take more right now, and nothing of the job is left in Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from generation.queue.redis.queue import QUEUE_BUSY
from tests.fixtures.bot import StartBot, ephemeral_reply
from tests.fixtures.redis_server import RedisServer

pytestmark = pytest.mark.redis_only


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own (the session's is shared), to run out of memory."""
    started = RedisServer.start(tmp_path / "redis")
    yield started
    started.stop()


def keys(server: RedisServer) -> list[bytes]:
    with redis.Redis(host="127.0.0.1", port=server.port) as client:
        return sorted(key for key in client.scan_iter() if not key.startswith(b"filler:"))


async def test_a_video_redis_has_no_room_for_is_refused_in_private_with_nothing_written(
    start_bot: StartBot, redis_server: RedisServer
) -> None:
    running = await start_bot()
    written = keys(redis_server)
    redis_server.exhaust_memory()

    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat"})

    assert QUEUE_BUSY in await ephemeral_reply(interaction)
    assert keys(redis_server) == written
