"""The `cluster` every scale test starts its processes in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.discord_emulator import DiscordEmulator
from tests.fixtures.redis_server import RedisServer, redis_server_binary
from tests.scale.cluster import Cluster


@pytest.fixture
async def cluster(discord_emulator: DiscordEmulator, tiny_model_dir: Path, tmp_path: Path) -> AsyncIterator[Cluster]:
    """Redis with AOF on, the emulator with a guild and a channel; the test starts the processes."""
    redis_server_binary()  # skips, saying why, where redis-server is missing (fails in CI)
    # Deliveries through processes are what these tests watch, not the 3-second rule: a busy machine
    # may answer late, and tests/bot holds the bot to that deadline on a fake clock.
    discord_emulator.response_deadline = None
    server = RedisServer.start(tmp_path / "redis", appendonly=True)
    guild = discord_emulator.add_guild("scale")
    channel = discord_emulator.add_channel(guild, "videos")
    made = Cluster(discord_emulator, server, tiny_model_dir, tmp_path, guild, channel)
    try:
        yield made
    finally:
        made.stop_all()
        server.stop()
