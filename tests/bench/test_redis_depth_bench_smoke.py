"""The Redis depth benchmark at a tiny depth: its scripts are called as the queue calls them."""

from __future__ import annotations

import math
from pathlib import Path

import redis

from bench.redis_depth_bench import run_depth
from tests.fixtures.redis_server import RedisServer


def test_a_tiny_depth_reports_every_figure(tmp_path: Path) -> None:
    server = RedisServer.start(tmp_path / "redis")
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        client.config_set("slowlog-log-slower-than", 0)
        figures = run_depth(client, depth=60, users=7, rounds=5)
    finally:
        client.close()
        server.stop()

    timings = [value for name, value in figures.items() if name != "slowest"]
    assert all(math.isfinite(value) and value >= 0 for value in timings), figures
    assert figures["slowest"]
