"""The queue's verbs on Redis: each Lua script (`scripts.py`) behind one typed, awaitable method.

Both sides share it: the bot's `RedisJobQueue` and the worker's `RedisJobSource`. Every deadline two
processes compare (leases, reclaim, worker liveness, ETAs) is on Redis's clock: the scripts read
`TIME` themselves, and `now()` asks Redis for the Python code that compares against what they wrote.
No host's clock is ever passed in, so a bot or worker whose clock is off cannot expire another's
lease. Only a test hands in `test_clock`, a fake clock the scripts then run on instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript

from generation.clock import Clock
from generation.queue.redis import scripts
from generation.queue.redis.codec import Raw, number
from generation.queue.redis.registry import GONE_KEPT_S

DEFAULT_PREFIX: Final = "{videobot}:"
"""Every key of a deployment starts with it; its hash tag (`{videobot}`) puts them all in one slot, so
the scripts run on a Redis Cluster endpoint too (see `scripts.py`)."""
_RETRIES: Final = 8
#: Connections one client opens at most; past that a command waits for one (up to `_POOL_WAIT_S`).
_MAX_CONNECTIONS: Final = 50
_POOL_WAIT_S: Final = 30.0
#: Jobs one script call reads or changes at most where a verb covers a whole line (a few ms at most).
_CHUNK: Final = 200
#: Jobs one `VIEW` call reads whole; ids one `ACTIVE` call lists (ids only, so more per call).
_VIEWED: Final = 100
_LISTED: Final = 1000


def connect(url: str, *, decode: bool = True) -> redis.Redis:
    """A client for `url` (`redis://host:port/db`); nothing is sent until the first command.

    A command that finds its connection broken (Redis restarted, a network blip) reconnects and is
    sent again, for about 4 s, instead of failing at once as redis-py does by default. Time-outs are
    not retried: the cancellation of a blocked read surfaces as one, and must end it. In a burst (a
    few hundred `/video` at once) commands wait for a free connection instead of failing with "Too
    many connections" as redis-py's default pool does.
    """
    retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), _RETRIES, supported_errors=(redis.ConnectionError,))
    pool = redis.BlockingConnectionPool.from_url(
        url, decode_responses=decode, retry=retry, max_connections=_MAX_CONNECTIONS, timeout=_POOL_WAIT_S
    )
    return redis.Redis.from_pool(pool)


def _rows(value: Any) -> list[Raw]:
    # cjson writes an empty Lua table as {}: an empty list of rows.
    return list(value) if isinstance(value, list) else []


class QueueVerbs:
    """The scripts and the few plain commands the queue needs, under one key prefix."""

    def __init__(
        self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX, lease_s: float, test_clock: Clock | None = None
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.lease_s = lease_s
        self._test_clock = test_clock
        self._scripts: dict[str, AsyncScript] = {}

    def key(self, *parts: str) -> str:
        """A key under the prefix."""
        return self.prefix + "".join(parts)

    async def now(self) -> float:
        """The time on the clock the scripts stamp and compare: Redis's (the test's clock in a test)."""
        if self._test_clock is not None:
            return self._test_clock.time()
        seconds, microseconds = await self.client.time()
        return seconds + microseconds / 1e6

    async def _run(self, source: str, **arguments: Any) -> dict[str, Any]:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.client.register_script(source)
        arguments.setdefault("lease", self.lease_s)
        # An empty time makes the script read Redis's own `TIME` (see `prelude.PRELUDE`).
        stamp = "" if self._test_clock is None else number(self._test_clock.time())
        reply = await script(keys=[self.key("sched")], args=[self.prefix, stamp, json.dumps(arguments)])
        answer: dict[str, Any] = json.loads(reply)
        return answer

    # -- the bot's -------------------------------------------------------------------------------

    async def submit(
        self,
        job_id: str,
        fields: Mapping[str, str],
        *,
        max_jobs: int,
        max_per_user: int,
        quota: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Queue a job if no pause, quota or cap refuses it, counting it against `quota` (`codec.quota_argument`)
        in the same step: {"job": row, "damaged": ...} or {"error": ..., ...}."""
        return await self._run(
            scripts.SUBMIT, id=job_id, owner=fields["owner"], fields=dict(fields), max_jobs=max_jobs,
            max_per_user=max_per_user, **({"quota": dict(quota)} if quota is not None else {}),
        )  # fmt: skip

    async def quota(self, quota: Mapping[str, Any]) -> dict[str, Any]:
        """Where a quota (`codec.quota_argument`) stands: {"used": n, "resets_at": "..." or "", "damaged": ...}."""
        return await self._run(scripts.QUOTA, quota=dict(quota))

    async def cancel(self, job_id: str, by: str) -> Raw | None:
        """Cancel a job wherever it is; its row after (None for an unknown job)."""
        job: Raw | None = (await self._run(scripts.CANCEL, id=job_id, by=by)).get("job")
        return job

    async def clear(self, by: str) -> list[Raw]:
        """Cancel every waiting job, `_CHUNK` per script call from the end of the line (so none moves the
        rest); their rows, in the order they were. Jobs submitted while it runs may be cleared too."""
        cleared: list[Raw] = []
        while True:
            answer = await self._run(scripts.CLEAR, by=by, count=_CHUNK)
            rows = _rows(answer["jobs"])
            cleared.extend(rows)
            if not rows or not answer["more"]:
                return cleared[::-1]

    async def view(self, job_ids: Sequence[str]) -> list[Raw]:
        """The rows of the jobs that exist, with positions and ETAs (`_VIEWED` jobs per script call)."""
        rows: list[Raw] = []
        for start in range(0, len(job_ids), _VIEWED):
            chunk = list(job_ids[start : start + _VIEWED])
            rows.extend(_rows((await self._run(scripts.VIEW, ids=chunk))["jobs"]))
        return rows

    async def index_order(self) -> None:
        """Put the waiting jobs of a Redis written before the `order` zset existed into it, `_CHUNK` owners
        per script call (see `scripts.INDEX_ORDER`); once done, a flag makes this one HGET."""
        if await self.client.hget(self.key("sched"), "ordered"):
            return
        cursor = "0"
        while True:
            cursor = str((await self._run(scripts.INDEX_ORDER, cursor=cursor, count=_CHUNK))["cursor"])
            if cursor == "0":
                return

    async def far_places(self, every_s: float) -> int:
        """Announce the waiting jobs past the near line of each lane (model) whose place moved enough, unless
        a pass began less than `every_s` ago (`scripts.FAR_PLACES`), `_CHUNK` jobs per script call; how
        many were told."""
        told, start, lane = 0, None, ""
        while True:
            answer = await self._run(
                scripts.FAR_PLACES, begin=start is None, start=start or 0, lane=lane, count=_CHUNK, every=every_s
            )
            told += int(answer["told"])
            start, lane = answer.get("next"), str(answer.get("lane", ""))
            if start is None:
                return told

    async def waiting_by_model(self) -> dict[str, int]:
        """Jobs waiting per model they name (those naming none are not counted), as Redis holds them:
        unchecked."""
        counts = cast(dict[str, str], await self.client.hgetall(self.key("lanes")))
        return {name: int(count) for name, count in counts.items() if count.isascii() and count.isdigit()}

    async def active_ids(self) -> list[str]:
        """Held jobs (by submission), then waiting ones lane by lane (those naming no model, then each
        model's by name), each lane in the order it will run (`_LISTED` per script call: a line that moves
        in between may list a job twice, kept once, or miss one that moved up)."""
        ids: dict[str, None] = {}
        start = 1
        while True:
            answer = await self._run(scripts.ACTIVE, start=start, count=_LISTED)
            ids.update(dict.fromkeys(_rows(answer["ids"])))  # type: ignore[arg-type]
            if not answer["more"]:
                return list(ids)
            start += _LISTED

    async def acknowledge(self, job_id: str, origin: str, *, keep_s: float) -> bool:
        """Mark the job's outcome shown to `origin`'s user: once it has ended, its files on that bot's host
        are recorded for its sweep and its record expires after `max(ENDED_EVENTS_TTL, keep_s)` s.
        False for an unknown job."""
        found: bool = (await self._run(scripts.ACK, id=job_id, origin=origin, keep_s=keep_s))["found"]
        return found

    async def set_context(self, job_id: str, context: str) -> bool:
        """Replace a job's context; False for an unknown job."""
        found: bool = (await self._run(scripts.SET_CONTEXT, id=job_id, context=context))["found"]
        return found

    async def lost(self, job_id: str, fields: Mapping[str, str], *, submitted_at: float, reason: str) -> bool:
        """Write back a job Redis lost, ended as failed for `reason` (its terminal event emitted as any
        other); False when its record is there after all."""
        answer = await self._run(
            scripts.LOST, id=job_id, fields=dict(fields), submitted_at=number(submitted_at), reason=reason
        )
        recorded: bool = answer["recorded"]
        return recorded

    async def reclaim(self, max_attempts: int) -> list[str]:
        """Hand back (or fail, at `max_attempts` crashes) the jobs whose lease ran out; their ids."""
        expired: list[str] = _rows((await self._run(scripts.RECLAIM, max_attempts=max_attempts))["expired"])  # type: ignore[assignment]
        return expired

    # -- the worker's ----------------------------------------------------------------------------

    async def take(
        self, worker: str, model: str, default: int, by_shape: Mapping[str, int], request: str
    ) -> tuple[list[Raw], str]:
        """The next batch `worker` (serving `model`; '' for none) may run, in the fair order of that model's
        jobs and those any model runs, held under a new fencing token. The same `request` id again (its
        answer was lost) gets the same batch, for one lease."""
        answer = await self._run(
            scripts.TAKE, worker=worker, model=model, default=default, by_shape=dict(by_shape), req=request
        )
        return _rows(answer["jobs"]), str(answer.get("token", ""))

    async def begin(self, token: str, job_ids: Sequence[str], attempt: int) -> list[Raw]:
        """An attempt for these held jobs starts now; the rows of those still held."""
        answer = await self._run(scripts.BEGIN, token=token, ids=list(job_ids), attempt=attempt)
        return _rows(answer["started"])

    async def progress(self, token: str, job_ids: Sequence[str], step: int, total: int) -> None:
        """The attempt finished `step` of `total`."""
        await self._run(scripts.PROGRESS, token=token, ids=list(job_ids), step=step, total=total)

    async def end(self, worker: str, token: str, job_id: str, ending: Mapping[str, Any], request: str) -> Raw | None:
        """End a held job; its final row, or None when the token no longer holds it (it ended elsewhere).
        The same `request` id again (its answer was lost) is answered as the first was."""
        answer = await self._run(
            scripts.END, worker=worker, token=token, id=job_id, ending=dict(ending), req=request
        )  # fmt: skip
        job: Raw | None = answer.get("job") if answer["ended"] else None
        return job

    async def put_back(self, token: str, job_ids: Sequence[str]) -> None:
        """Hand held jobs back to the front of their owners' lines (cancelled ones end)."""
        await self._run(scripts.PUT_BACK, token=token, ids=list(job_ids))

    async def heartbeat(
        self, worker: str, held: Mapping[str, str], record: Mapping[str, str], *, model: str = ""
    ) -> tuple[list[str], list[str]]:
        """Extend the leases of the `held` jobs (id: token), save the worker's record and that it serves
        `model` ('' for none); (cancelled, lost)."""
        answer = await self._run(
            scripts.HEARTBEAT, worker=worker, held=dict(held), record=dict(record), model=model, gone_s=GONE_KEPT_S
        )
        return list(_rows(answer["cancelled"])), list(_rows(answer["lost"]))  # type: ignore[arg-type]

    async def learn(
        self, shape: str, cost: float, seconds: float, after_s: float, window: int, *, model: str = ""
    ) -> None:
        """Record a run of `model` ('' for a worker serving none by name) for the ETAs everybody computes."""
        await self._run(
            scripts.LEARN, shape=shape, cost=number(cost), seconds=number(seconds), after=number(after_s),
            window=window, model=model,
        )  # fmt: skip
