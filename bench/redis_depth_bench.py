"""Depth benchmark: what a submit and a take cost in Redis while thousands of jobs wait.

    python -m bench.redis_depth_bench [--depths 100 1000 10000] [--users 30 300 3000] [--rounds 300]

This process starts its own `redis-server` (as `bench.scale_bench` does) and drives the queue's Lua
scripts (`generation.queue.redis.scripts`) directly with a synchronous client, as `QueueVerbs` calls them.
For each depth, under a fresh key prefix: fill the line with that many waiting jobs from `--users`
users (pipelined submits, round-robin over the users), then `--rounds` times submit one job, take one
(and end it, so the depth stays put); then one pass of the far places (`FAR_PLACES`), a `VIEW` of the
deepest job and a `/queue` listing (`ACTIVE` and `VIEW` of every waiting job, as `QueueVerbs` chunks it).
Every command is logged (`slowlog-log-slower-than 0`), so the SLOWLOG maximum is the longest any single
command or script ran inside Redis during the depth's whole run, fill included; the submit and take
figures are client-side (a round trip on 127.0.0.1 included).

Prints figures only; no assertions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

from bench.scale_bench import redis_server
from generation.queue.redis import scripts

_SHAPE = json.dumps([64, 64, 16])
_LEASE_S = 30.0
_SLOWLOG_KEPT = 1_000_000
_NAMED = ("SUBMIT", "TAKE", "END", "VIEW", "ACTIVE", "FAR_PLACES", "LEARN")


class Lua:
    """The scripts under one key prefix, called as `QueueVerbs` calls them (KEYS: the prefix's `sched`;
    ARGV: prefix, an empty time so the scripts read Redis's `TIME`, JSON)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.prefix = f"depth-{uuid.uuid4().hex[:8]}:"
        self._shas = {source: client.script_load(source) for source in (scripts.SUBMIT, scripts.TAKE, scripts.END)}
        self._shas |= {s: client.script_load(s) for s in (scripts.VIEW, scripts.ACTIVE, scripts.FAR_PLACES)}
        self._shas[scripts.LEARN] = client.script_load(scripts.LEARN)

    def name(self, entry: dict[str, Any]) -> str:
        """What a SLOWLOG entry ran: the script's name for an EVALSHA, else the command."""
        words = _words(entry)
        names = {sha: name for name in _NAMED for sha in [self._shas.get(getattr(scripts, name))] if sha}
        return names.get(words[1], "a script") if words[0].upper() == "EVALSHA" else words[0].upper()

    @property
    def routing_key(self) -> str:
        """The key every script is routed by (see `scripts.py`)."""
        return f"{self.prefix}sched"

    def args(self, **arguments: Any) -> list[str]:
        arguments.setdefault("lease", _LEASE_S)
        return [self.prefix, "", json.dumps(arguments)]

    def __call__(self, source: str, **arguments: Any) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(
            self.client.evalsha(self._shas[source], 1, self.routing_key, *self.args(**arguments))
        )
        return answer

    def submit_args(self, job_id: str, owner: str) -> list[str]:
        fields = {"id": job_id, "owner": owner, "origin": "bench", "shape": _SHAPE, "cost": "1.0"}
        return self.args(id=job_id, owner=owner, fields=fields, max_jobs=1_000_000, max_per_user=1_000)

    def fill(self, depth: int, users: int) -> None:
        """`depth` waiting jobs, user `i % users` submitting the i-th, 1,000 per pipeline."""
        for start in range(0, depth, 1000):
            with self.client.pipeline(transaction=False) as pipe:
                for i in range(start, min(depth, start + 1000)):
                    pipe.evalsha(
                        self._shas[scripts.SUBMIT], 1, self.routing_key, *self.submit_args(f"f{i}", f"user{i % users}")
                    )
                pipe.execute()


def _words(entry: dict[str, Any]) -> list[str]:
    command = entry["command"]
    text = command.decode(errors="replace") if isinstance(command, bytes) else str(command)
    return text.split() or [""]


def _is_slowlog(entry: dict[str, Any]) -> bool:
    return _words(entry)[0].upper() == "SLOWLOG"


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    """p50 and p99 of `samples`, in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def run_depth(client: redis.Redis, depth: int, users: int, rounds: int) -> dict[str, Any]:
    """Fill to `depth`, then time submits and takes there; the figures of one depth."""
    lua = Lua(client)
    client.slowlog_reset()
    # Estimates exist, so every ETA is computed (no run recorded would skip them).
    lua(scripts.LEARN, shape=_SHAPE, cost="1.0", seconds="6.0", after="0.5", window=20)
    lua.fill(depth, users)
    submits: list[float] = []
    takes: list[float] = []
    for i in range(rounds):
        args = lua.submit_args(f"r{i}", f"user{(depth + i) % users}")
        began = time.perf_counter()
        client.evalsha(lua._shas[scripts.SUBMIT], 1, lua.routing_key, *args)
        submits.append(time.perf_counter() - began)
        began = time.perf_counter()
        taken = lua(scripts.TAKE, worker="bench", default=1, by_shape={})
        takes.append(time.perf_counter() - began)
        for job in taken["jobs"]:
            ending = {"kind": "failed", "reason": "bench"}
            lua(scripts.END, worker="bench", token=taken["token"], id=job["id"], ending=ending)
    began = time.perf_counter()
    start: int | None = None
    while True:
        answer = lua(scripts.FAR_PLACES, begin=start is None, start=start or 0, count=200, every=0)
        start = answer.get("next")
        if start is None:
            break
    far_pass_s = time.perf_counter() - began
    ids: list[str] = []
    while True:
        listed = lua(scripts.ACTIVE, start=len(ids) + 1, count=1000)
        ids += listed["ids"] or []
        if not listed["more"]:
            break
    began = time.perf_counter()
    lua(scripts.VIEW, ids=ids[-1:])
    deepest_view_s = time.perf_counter() - began
    for chunk in range(0, len(ids), 100):
        lua(scripts.VIEW, ids=ids[chunk : chunk + 100])
    logged = [entry for entry in client.slowlog_get(_SLOWLOG_KEPT) if not _is_slowlog(entry)]
    slowest = max(logged, key=lambda entry: int(entry["duration"]))
    submit_p50, submit_p99 = percentiles(submits)
    take_p50, take_p99 = percentiles(takes)
    return {
        "submit_p50": submit_p50,
        "submit_p99": submit_p99,
        "take_p50": take_p50,
        "take_p99": take_p99,
        "far_pass_ms": far_pass_s * 1000,
        "view_deepest_ms": deepest_view_s * 1000,
        "slowlog_max_ms": int(slowest["duration"]) / 1000,
        "slowest": lua.name(slowest),
    }


def main() -> None:
    """Parse the options, run every depth, print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depths", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--users", type=int, nargs="+", default=[30, 300, 3000], help="users at each depth")
    parser.add_argument("--rounds", type=int, default=300, help="submits and takes timed at each depth")
    options = parser.parse_args()
    if len(options.users) != len(options.depths):
        parser.error("give one --users figure per --depths figure")
    with tempfile.TemporaryDirectory() as folder, redis_server(Path(folder) / "redis") as url:
        client = redis.Redis.from_url(url, decode_responses=True)
        client.config_set("slowlog-log-slower-than", 0)
        client.config_set("slowlog-max-len", _SLOWLOG_KEPT)
        print(f"{'waiting':>8} {'users':>6}  submit p50/p99 ms  take p50/p99 ms  far pass ms  view ms  SLOWLOG max ms")
        for depth, users in zip(options.depths, options.users, strict=True):
            f = run_depth(client, depth, users, options.rounds)
            print(
                f"{depth:>8} {users:>6}  {f['submit_p50']:>7.2f} / {f['submit_p99']:<7.2f}"
                f"  {f['take_p50']:>6.2f} / {f['take_p99']:<6.2f}  {f['far_pass_ms']:>11.1f}"
                f"  {f['view_deepest_ms']:>7.2f}  {f['slowlog_max_ms']:>14.2f} ({f['slowest']})"
            )
        client.close()


if __name__ == "__main__":
    main()
