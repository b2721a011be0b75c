"""The workers as Redis knows them: each one's heartbeat record, and whether it is still alive.

A worker writes `worker:{name}` (host, GPU, model state, memory in use, current jobs, jobs done) and
its last heartbeat in the `workers` zset at every tick (`RedisJobSource.heartbeat`). One whose last
heartbeat is older than a lease is gone: its jobs are reclaimed, and it is listed as gone until it
comes back or its record expires: each heartbeat sets the record to expire `GONE_KEPT_S` after it and
drops from `workers` the names silent that long, so a fleet that restarts under new names leaves nothing
behind in Redis.
"""

from __future__ import annotations

from typing import Final, cast

import redis.asyncio as redis

from generation.queue.interface import WorkerStatus

GONE_KEPT_S: Final = 24 * 3600
"""How long a gone worker is still listed (then its record expires from Redis)."""


async def read_workers(client: redis.Redis, prefix: str, now: float, lease_s: float) -> list[WorkerStatus]:
    """Every worker heard from in the last `GONE_KEPT_S`, by name; `alive` when it beat within a lease.

    `now` is on the clock the heartbeats were stamped with, Redis's (`QueueVerbs.now()`), never this host's.
    """
    beats = cast(
        list[tuple[str, float]],
        await client.zrangebyscore(f"{prefix}workers", now - GONE_KEPT_S, "+inf", withscores=True),
    )
    async with client.pipeline(transaction=False) as pipe:
        for name, _ in beats:
            pipe.hgetall(f"{prefix}worker:{name}")
        records = cast(list[dict[str, str]], await pipe.execute())
    workers = []
    for (name, last), record in zip(beats, records, strict=True):
        memory = record.get("memory_bytes")
        current = record.get("current", "")
        workers.append(
            WorkerStatus(
                name=name,
                host=record.get("host", ""),
                gpu=record.get("gpu", ""),
                current_jobs=tuple(job for job in current.split(",") if job),
                jobs_done=int(record.get("done", 0)),
                last_heartbeat=float(last),
                alive=last >= now - lease_s and record.get("state") != "stopped",
                model_ready=record.get("model") != "failed",
                memory_bytes=int(memory) if memory else None,
            )
        )
    return sorted(workers, key=lambda worker: worker.name)
