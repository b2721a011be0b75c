"""The workers as Redis knows them: each one's heartbeat record, and whether it is still alive.

A worker writes `worker:{name}` (host, GPU, model state, memory in use, current jobs, jobs done) and
its last heartbeat in the `workers` zset at every tick (`RedisJobSource.heartbeat`). One whose last
heartbeat is older than a lease is gone: its jobs are reclaimed, and it is listed as gone until it
comes back or its record expires: each heartbeat sets the record to expire `GONE_KEPT_S` after it and
drops from `workers` the names silent that long, so a fleet that restarts under new names leaves nothing
behind in Redis.

Each record also advertises the model the worker serves: its public name (`serves`, the worker's
`MODEL_NAME`) and its profile's name (`profile`); the bot resolves the profile from the catalog it
ships (`generation.profiles`). A record is what Redis holds, so input: an advert whose name is not a
model name, or whose profile the catalog lacks, is left out with a warning (`served_models`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Final, cast

import redis.asyncio as redis

from generation.errors import InvalidRequestError, shown
from generation.profiles import PROFILES, ModelProfile
from generation.queue.interface import ServedModel, WorkerStatus
from generation.request import check_model_name

GONE_KEPT_S: Final = 24 * 3600
"""How long a gone worker is still listed (then its record expires from Redis)."""
ADVERT_MODEL: Final = "serves"
"""Record field: the public name of the model the worker serves (empty for none)."""
ADVERT_PROFILE: Final = "profile"
"""Record field: the name of that model's profile in the shipped catalog."""

_Record = tuple[str, float, dict[str, str]]
"""A worker's name, last heartbeat and record."""


async def _records(client: redis.Redis, prefix: str, now: float) -> list[_Record]:
    beats = cast(
        list[tuple[str, float]],
        await client.zrangebyscore(f"{prefix}workers", now - GONE_KEPT_S, "+inf", withscores=True),
    )
    async with client.pipeline(transaction=False) as pipe:
        for name, _ in beats:
            pipe.hgetall(f"{prefix}worker:{name}")
        records = cast(list[dict[str, str]], await pipe.execute())
    return [(name, float(last), record) for (name, last), record in zip(beats, records, strict=True)]


def _alive(last: float, record: dict[str, str], now: float, lease_s: float) -> bool:
    return last >= now - lease_s and record.get("state") != "stopped"


async def read_workers(client: redis.Redis, prefix: str, now: float, lease_s: float) -> list[WorkerStatus]:
    """Every worker heard from in the last `GONE_KEPT_S`, by name; `alive` when it beat within a lease.

    `now` is on the clock the heartbeats were stamped with, Redis's (`QueueVerbs.now()`), never this host's.
    """
    workers = []
    for name, last, record in await _records(client, prefix, now):
        memory = record.get("memory_bytes")
        current = record.get("current", "")
        workers.append(
            WorkerStatus(
                name=name,
                host=record.get("host", ""),
                gpu=record.get("gpu", ""),
                current_jobs=tuple(job for job in current.split(",") if job),
                jobs_done=int(record.get("done", 0)),
                last_heartbeat=last,
                alive=_alive(last, record, now, lease_s),
                model_ready=record.get("model") != "failed",
                memory_bytes=int(memory) if memory else None,
            )
        )
    return sorted(workers, key=lambda worker: worker.name)


async def served_models(
    client: redis.Redis, prefix: str, now: float, lease_s: float, *, warn: Callable[[str], None]
) -> tuple[ServedModel, ...]:
    """Every model a worker heard from in the last `GONE_KEPT_S` serves, by name, with how many live
    workers serve it: 0 for a model whose workers are all gone, whose jobs wait until one is back.

    `now` is on Redis's clock, as for `read_workers`. An advert that fails its checks (a name that is
    not a model name, a profile the catalog lacks, or another profile than most workers of that name
    advertise) is left out, and `warn` is told which worker's (never the advertised value: it may be
    anything).
    """
    adverts: dict[str, list[tuple[str, ModelProfile, bool]]] = {}
    for worker, last, record in sorted(await _records(client, prefix, now)):
        name = record.get(ADVERT_MODEL, "")
        if not name:
            continue  # serving no model by name: it runs only the jobs that name none
        try:
            check_model_name(name)
        except InvalidRequestError:
            warn(f"worker {shown(worker)} advertises a model name that is not one; ignored")
            continue
        profile = PROFILES.get(record.get(ADVERT_PROFILE, ""))
        if profile is None:
            warn(f"worker {shown(worker)} advertises a profile this bot does not ship for model {name}; ignored")
            continue
        adverts.setdefault(name, []).append((worker, profile, _alive(last, record, now, lease_s)))
    served = []
    for name, found in sorted(adverts.items()):
        # Most workers of a name agree on its profile (the live ones if any; a tie: the first by name).
        voters = [entry for entry in found if entry[2]] or found
        counts = Counter(profile.name for _, profile, _ in voters)
        chosen = max(counts, key=counts.__getitem__)
        for worker, profile, _ in found:
            if profile.name != chosen:
                warn(f"worker {shown(worker)} advertises model {name} with another profile than its peers; ignored")
        alive = sum(alive for _, profile, alive in found if profile.name == chosen)
        served.append(ServedModel(name, PROFILES[chosen], alive))
    return tuple(served)
