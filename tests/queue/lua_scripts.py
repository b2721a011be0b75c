"""The queue's Lua scripts called directly, synchronously, under a key prefix of their own.

For the specifications of the scripts themselves (the fair order's twin test, the cost at depth):
`Scripts` calls them as `QueueVerbs` does, on a plain client, with a time the test sets.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import redis

from generation.queue.redis import scripts

LEASE_S = 30.0


def job_fields(job_id: str, owner: str, shape: str, model: str = "", weight: int | None = 1) -> dict[str, str]:
    """The fields of a new job the scripts read (no request: nothing here delivers a video); `model` the
    name of the model that must run it ('' for any), `weight` its owner's turns per round (None: no
    field, as a job written before weights)."""
    fields = {"id": job_id, "owner": owner, "origin": "lua-scripts", "shape": shape, "cost": "1.0", "model": model}
    return fields if weight is None else fields | {"weight": str(weight)}


class Scripts:
    """The scripts under one prefix; `now` is the time every call stamps (the wall clock unless set)."""

    def __init__(self, client: redis.Redis, prefix: str | None = None) -> None:
        self.client = client
        self.prefix = prefix or f"lua-{uuid.uuid4().hex[:10]}:"
        self.now: float | None = None
        self._shas: dict[str, str] = {}

    def _sha(self, source: str) -> str:
        sha = self._shas.get(source)
        if sha is None:
            sha = self._shas[source] = self.client.script_load(source)
        return sha

    @property
    def _routing_key(self) -> str:
        return f"{self.prefix}sched"

    def _args(self, arguments: dict[str, Any]) -> list[str]:
        arguments.setdefault("lease", LEASE_S)
        now = time.time() if self.now is None else self.now
        return [self.prefix, repr(now), json.dumps(arguments)]

    def __call__(self, source: str, **arguments: Any) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(
            self.client.evalsha(self._sha(source), 1, self._routing_key, *self._args(arguments))
        )
        return answer

    def submit(self, job_id: str, owner: str, shape: str, model: str = "", weight: int | None = 1) -> dict[str, Any]:
        """Submit with caps no test reaches."""
        return self(scripts.SUBMIT, **_submission(job_id, owner, shape, model, weight))

    def fill(self, jobs: list[tuple[str, str, str]], model: str = "") -> None:
        """Submit (id, owner, shape) jobs for `model` in order, pipelined a thousand at a time."""
        sha = self._sha(scripts.SUBMIT)
        for start in range(0, len(jobs), 1000):
            with self.client.pipeline(transaction=False) as pipe:
                for job_id, owner, shape in jobs[start : start + 1000]:
                    pipe.evalsha(sha, 1, self._routing_key, *self._args(_submission(job_id, owner, shape, model)))
                pipe.execute()

    def line(self) -> list[str]:
        """The waiting job ids in the order the scripts will hand them out."""
        running = set(self.client.zrange(f"{self.prefix}running", 0, -1))
        ids = self(scripts.ACTIVE, start=1, count=1_000_000)["ids"] or []
        return [job_id for job_id in ids if job_id not in running]

    def places(self, job_ids: list[str]) -> dict[str, int | None]:
        """Each job's place as `VIEW` reports it (0 while held, None once ended)."""
        rows = self(scripts.VIEW, ids=job_ids)["jobs"] or []
        return {row["id"]: row.get("position") for row in rows}

    def told(self, job_id: str) -> int | None:
        """The place last announced to the job."""
        told = self.client.hget(f"{self.prefix}job:{job_id}", "pos")
        return None if told is None else int(told)

    def queued_events(self, job_id: str) -> list[dict[str, str]]:
        """The job's `queued` events, oldest first."""
        entries = self.client.xrange(f"{self.prefix}ev:{job_id}")
        return [fields for _, fields in entries if fields.get("kind") == "queued"]

    def cleanup(self) -> None:
        """Delete every key under the prefix."""
        for key in self.client.scan_iter(f"{self.prefix}*"):
            self.client.delete(key)


def _submission(job_id: str, owner: str, shape: str, model: str = "", weight: int | None = 1) -> dict[str, Any]:
    return {
        "id": job_id,
        "owner": owner,
        "fields": job_fields(job_id, owner, shape, model, weight),
        "max_jobs": 1_000_000,
        "max_per_user": 1_000,
    }
