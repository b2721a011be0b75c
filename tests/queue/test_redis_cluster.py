"""The queue runs on a Redis Cluster endpoint: every key of a deployment lives in one hash slot.

A real `redis-server` in cluster mode, one node holding every slot (what a managed "cluster-mode"
Redis with one shard is), runs a job with a picture end to end under the shipped prefix. Every key
the bot and the worker wrote is then counted in the slot of `{videobot}:sched`, the key each script
names in `KEYS`; a key outside it would be refused by a cluster of several shards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from generation.queue.interface import JobFinished
from generation.queue.redis.prelude import lua_source
from generation.queue.redis.verbs import DEFAULT_PREFIX
from generation.queue.settings import QueueSettings
from tests.fakes.clock import FakeClock
from tests.fixtures.redis_server import RedisServer, free_port
from tests.patience import PATIENCE_S
from tests.queue.conftest import picture_job_through_redis


@pytest.fixture
def cluster_node(tmp_path: Path) -> Iterator[RedisServer]:
    """A one-node Redis Cluster that owns all 16,384 slots, once the cluster says it is ok."""
    folder = tmp_path / "redis"
    # The cluster bus port is given: Redis's default (the port + 10,000) overflows for a high free port.
    server = RedisServer.start(
        folder,
        options=[
            "--cluster-enabled", "yes", "--cluster-config-file", str(folder / "nodes.conf"),
            "--cluster-port", str(free_port()),
        ],
    )  # fmt: skip
    client = redis.Redis.from_url(server.url)
    client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
    deadline = time.monotonic() + PATIENCE_S
    while client.cluster("INFO")["cluster_state"] != "ok":  # the node settles its own config first
        assert time.monotonic() < deadline, "the one-node cluster never became ok"
        time.sleep(0.05)
    client.close()
    yield server
    server.stop()


def test_the_prefixs_hash_tag_puts_any_two_keys_in_one_slot() -> None:
    assert key_slot(f"{DEFAULT_PREFIX}job:0123456789ab".encode()) == key_slot(f"{DEFAULT_PREFIX}sched".encode())


def test_every_script_checks_it_was_routed_by_the_deployments_sched_key() -> None:
    assert "if KEYS[1] ~= P .. 'sched' then" in lua_source("prelude")


async def test_a_job_runs_end_to_end_on_a_cluster_endpoint_with_every_key_in_one_slot(
    cluster_node: RedisServer, queue_settings: QueueSettings, clock: FakeClock, tmp_path: Path
) -> None:
    urls = (cluster_node.url, cluster_node.url)
    finished = await picture_job_through_redis(urls, DEFAULT_PREFIX, queue_settings, clock, tmp_path)
    assert isinstance(finished, JobFinished)

    client = redis.Redis.from_url(cluster_node.url)
    slot = client.cluster("KEYSLOT", f"{DEFAULT_PREFIX}sched")
    written = await asyncio.to_thread(client.dbsize)
    assert written > 0
    assert client.cluster("COUNTKEYSINSLOT", slot) == written
    client.close()
