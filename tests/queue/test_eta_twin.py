"""The Lua scripts give every job the ETA `QueueCore` gives it: the same seconds, whatever the line.

The ETA is written twice, as the fair order is: in Python (`QueueCore.line` and `snapshot`, over
`EtaEstimator`) and in Lua (`near_line`, `eta_at` and `running_remaining` in the prelude). A state
machine drives both with the same traffic on the same fake clock: submissions of several owners in
several shapes and costs, runs learnt (for shapes in line and for others, so a shape with no history
of its own falls back to the overall rate), batches taken, attempts begun (the whole batch, or a
half of it, as a failed batch is retried), steps done, jobs ended or cancelled, time passing; each
submission carries a weight (its owner's turns per round), so the line is a weighted one. After
each step `VIEW` must report, for each waiting job, its place and the ETA `QueueCore.line` reports,
and for each running job the ETA its snapshot reports, within float rounding (Lua sums the window
afresh where Python keeps running sums, and cjson writes 14 digits).

Where the two differ by design (one worker here, a line of at most `NEAR_PLACES`):

* Lua divides every ETA of a waiting job by the workers alive (a fleet shares one line; the in-process
  queue has one worker);
* past the first `NEAR_PLACES` places Lua extrapolates: place p beyond the near line's n jobs gets
  `running + (eta(n) - running) * p / n`, where `running` is what the running jobs have left.

`test_far_places_and_idle_workers_scale_the_near_line` holds the scripts to that relation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import tempfile
import uuid
from pathlib import Path
from typing import Any, Final

import pytest
import redis.asyncio as aredis
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from generation.queue.allowance import Allowance
from generation.queue.core import QueueCore
from generation.queue.eta import EtaEstimator
from generation.queue.events import EventHub
from generation.queue.interface import JobSpec, Person
from generation.queue.redis.codec import Raw, job_fields, shape_key
from generation.queue.redis.verbs import QueueVerbs
from generation.queue.scheduler import FairScheduler
from generation.queue.source import BatchLimits, Failed
from generation.queue.store import JobStore
from generation.request import VideoRequest
from tests.fakes.clock import FakeClock
from tests.fixtures.redis_server import RedisServer
from tests.queue.conftest import spec

NEAR_PLACES: Final = 50  # the prelude's
WINDOW: Final = 3  # runs each estimate averages: small, so old runs drop out during a case
LEASE_S: Final = 3600.0  # no lease runs out while the fake clock moves
SHAPES: Final[tuple[dict[str, Any], ...]] = (
    {"width": 64, "height": 64, "num_frames": 2, "steps": 3},
    {"width": 128, "height": 64, "num_frames": 5, "steps": 4},
)  # two, so that batches of several jobs are common
WEIGHTS: Final = st.integers(1, 3)
"""Each submission's weight: its owner's turns per round in the fair order from then on."""
NEVER_IN_LINE: Final[dict[str, Any]] = {"width": 256, "height": 256, "num_frames": 3, "steps": 5}


def weighed(job: JobSpec, weight: int) -> JobSpec:
    """`job` with its owner's weight in the fair order."""
    return dataclasses.replace(job, allowance=Allowance(weight=weight))


def close_to(seconds: float | None) -> Any:
    """`seconds` within float rounding (the Lua side sums the window afresh, Python keeps running sums)."""
    return None if seconds is None else pytest.approx(seconds, rel=1e-9, abs=1e-9)


class Twins:
    """One queue state kept twice: by a `QueueCore` and by the scripts under a prefix of their own."""

    def __init__(self, url: str, folder: Path) -> None:
        self.clock = FakeClock(start=1_000_000.0)
        self.verbs = QueueVerbs(
            aredis.Redis.from_url(url, decode_responses=True),
            prefix=f"eta-{uuid.uuid4().hex[:10]}:",
            lease_s=LEASE_S,
            test_clock=self.clock,
        )
        self.store = JobStore(folder / "jobs.sqlite3")
        self.core = QueueCore(FairScheduler(1000, 1000), self.store, EtaEstimator(WINDOW), EventHub(10_000), self.clock)
        self.ids = (f"{n:012x}" for n in itertools.count(1))
        self.token = ""
        self.running: list[str] = []  # taken, not ended, in the order taken
        self.attempts = 0
        self.members: list[str] = []  # of the attempt begun last
        self.steps = 0

    async def open(self) -> None:
        """Open the core's store."""
        await self.store.open()

    async def close(self) -> None:
        """Close the store and the client, and delete the prefix's keys."""
        await self.store.close()
        keys = [key async for key in self.verbs.client.scan_iter(f"{self.verbs.prefix}*")]
        if keys:
            await self.verbs.client.delete(*keys)
        await self.verbs.client.aclose()

    async def submit(self, job: JobSpec) -> str:
        """Queue `job` on both sides; its id."""
        job_id = next(self.ids)
        await self.core.admit(job_id, job)
        answer = await self.verbs.submit(job_id, job_fields(job_id, job, "twin"), max_jobs=1000, max_per_user=1000)
        assert "error" not in answer
        return job_id

    async def learn(self, request: VideoRequest, cost: float, seconds: float, after_s: float) -> None:
        """Teach both sides a run of `request`'s shape (`cost` may be a batch's)."""
        self.core.learn(request.shape, cost, seconds, after_s)
        await self.verbs.learn(shape_key(request), cost, seconds, after_s, WINDOW)

    async def take(self, size: int) -> None:
        """The worker takes the next batch of up to `size` on both sides (the same jobs)."""
        taken = [info.job_id for info in await self.core.take(BatchLimits(size)) or []]
        rows, self.token = await self.verbs.take("w", "", size, {}, uuid.uuid4().hex)
        assert [row["id"] for row in rows] == taken
        self.running = taken

    async def begin(self, members: list[str]) -> None:
        """An attempt for these taken jobs starts now."""
        self.attempts += 1
        await self.core.begin(members)
        assert len(await self.verbs.begin(self.token, members, self.attempts)) == len(members)
        self.members, self.steps = list(members), 0

    async def progress(self, total: int) -> None:
        """The last attempt finished one more step of `total`."""
        self.steps += 1
        self.core.progress(self.members, self.steps, total)
        await self.verbs.progress(self.token, self.members, self.steps, total)

    async def end(self, job_id: str) -> None:
        """A taken job ends (failed: the outcome does not matter to ETAs)."""
        assert await self.core.end(job_id, Failed("twin"))
        assert await self.verbs.end("w", self.token, job_id, {"kind": "failed", "reason": "twin"}, uuid.uuid4().hex)
        self.running.remove(job_id)

    async def cancel(self, job_id: str) -> None:
        """A waiting job is cancelled."""
        assert await self.core.cancel(job_id, Person("someone")) is not None
        assert await self.verbs.cancel(job_id, "someone") is not None

    async def heartbeat(self, worker: str) -> None:
        """`worker` says it is alive ("w" holding the taken jobs, any other idle)."""
        held = dict.fromkeys(self.running, self.token) if worker == "w" else {}
        await self.verbs.heartbeat(worker, held, {"state": "running" if held else "idle"})

    async def lua_view(self) -> dict[str, Raw]:
        """Every live job's row as `VIEW` reports it: its place (0 while running) and ETA."""
        ids = [*self.running, *self.core.line()]
        return {row["id"]: row for row in await self.verbs.view(ids)}


@pytest.fixture(scope="module")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


class EtaTwinMachine(RuleBasedStateMachine):
    """Random traffic through `QueueCore` and the scripts; their ETAs compared after every step."""

    url: str

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = tempfile.TemporaryDirectory()
        self.twins = Twins(self.url, Path(self.folder.name))
        self.run(self.twins.open())

    def run(self, step: Any) -> Any:
        return self.loop.run_until_complete(step)

    @property
    def waiting(self) -> list[str]:
        return list(self.twins.core.line())

    @property
    def in_the_attempt(self) -> list[str]:
        """Members of the attempt begun last that are still running."""
        return [job_id for job_id in self.twins.members if job_id in self.twins.running]

    @rule(owner=st.sampled_from("abc"), shape=st.sampled_from(SHAPES), count=st.integers(1, 3), weight=WEIGHTS)
    def submit(self, owner: str, shape: dict[str, Any], count: int, weight: int) -> None:
        for _ in range(count):
            self.run(self.twins.submit(weighed(spec(owner, **shape), weight)))

    @rule(
        shape=st.sampled_from((*SHAPES, NEVER_IN_LINE)),
        runs=st.integers(1, 3),
        seconds=st.floats(0.0, 500.0),
        after=st.floats(0.0, 1.0),
    )
    def learn(self, shape: dict[str, Any], runs: int, seconds: float, after: float) -> None:
        request = VideoRequest("a run", **shape)
        self.run(self.twins.learn(request, request.cost * runs, seconds, seconds * after))

    @precondition(lambda self: not self.twins.running and bool(self.waiting))
    @rule(size=st.integers(1, 4))
    def take(self, size: int) -> None:
        self.run(self.twins.take(size))

    # The runner's order: the taken batch begins whole; a failed attempt is retried in halves, its first
    # half first; once an attempt's members have all ended, the jobs left begin (the other half).
    @precondition(lambda self: bool(self.twins.running) and not self.in_the_attempt)
    @rule()
    def begin_the_jobs_left(self) -> None:
        self.run(self.twins.begin(self.twins.running))

    @precondition(lambda self: len(self.in_the_attempt) > 1)
    @rule()
    def retry_the_first_half(self) -> None:
        members = self.in_the_attempt
        self.run(self.twins.begin(members[: (len(members) + 1) // 2]))

    @precondition(lambda self: any(job_id in self.twins.running for job_id in self.twins.members))
    @rule(total=st.integers(1, 5))
    def progress(self, total: int) -> None:
        self.run(self.twins.progress(max(total, self.twins.steps + 1)))

    @precondition(lambda self: bool(self.twins.running))
    @rule(data=st.data())
    def end(self, data: st.DataObject) -> None:
        self.run(self.twins.end(data.draw(st.sampled_from(self.twins.running))))

    @precondition(lambda self: bool(self.waiting))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        self.run(self.twins.cancel(data.draw(st.sampled_from(self.waiting))))

    @rule(seconds=st.floats(0.0, 300.0))
    def advance(self, seconds: float) -> None:
        self.twins.clock.advance(seconds)

    @invariant()
    def every_waiting_job_is_given_the_same_place_and_eta(self) -> None:
        lua = self.run(self.twins.lua_view())
        for job_id, (place, eta_s) in self.twins.core.line().items():
            assert lua[job_id]["position"] == place
            assert lua[job_id].get("eta") == close_to(eta_s), job_id

    @invariant()
    def every_running_job_is_given_the_same_eta(self) -> None:
        lua = self.run(self.twins.lua_view())
        for job_id in self.twins.running:
            eta_s = self.twins.core.snapshot(job_id).eta_s
            assert lua[job_id]["position"] == 0
            assert lua[job_id].get("eta") == close_to(eta_s), job_id

    def teardown(self) -> None:
        self.run(self.twins.close())
        self.loop.close()
        self.folder.cleanup()


EtaTwinMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


def test_the_lua_etas_are_queue_cores_etas(redis_url: str) -> None:
    EtaTwinMachine.url = redis_url
    EtaTwinMachine.TestCase().runTest()


@settings(max_examples=10, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(st.sampled_from("abcd"), st.sampled_from(SHAPES), WEIGHTS),
        min_size=NEAR_PLACES + 3,
        max_size=NEAR_PLACES + 30,
    ),
    seconds=st.lists(st.floats(1.0, 500.0), min_size=len(SHAPES), max_size=len(SHAPES)),
    busy=st.booleans(),
    elapsed=st.floats(0.0, 100.0),
    idle_workers=st.integers(0, 2),
)
def test_far_places_and_idle_workers_scale_the_near_line(
    redis_url: str,
    jobs: list[tuple[str, dict[str, Any], int]],
    seconds: list[float],
    busy: bool,
    elapsed: float,
    idle_workers: int,
) -> None:
    async def compare() -> None:
        with tempfile.TemporaryDirectory() as folder:
            twins = Twins(redis_url, Path(folder))
            await twins.open()
            try:
                for shape, run_s in zip(SHAPES, seconds, strict=True):
                    request = VideoRequest("a run", **shape)
                    await twins.learn(request, request.cost, run_s, run_s / 10)
                for owner, shape, weight in jobs:
                    await twins.submit(weighed(spec(owner, **shape), weight))
                if busy:
                    await twins.take(2)
                    await twins.begin(twins.running)
                    twins.clock.advance(elapsed)
                for worker in ["w", *(f"idle-{n}" for n in range(idle_workers))]:
                    await twins.heartbeat(worker)
                line = twins.core.line()
                lua = await twins.lua_view()
                running = twins.core.snapshot(twins.running[0]).eta_s if twins.running else 0.0
            finally:
                await twins.close()
        _, near_end = list(line.values())[NEAR_PLACES - 1]  # the last place whose ETA Lua sums
        assert running is not None
        assert near_end is not None
        for job_id, (place, eta_s) in line.items():
            assert eta_s is not None
            seconds_of_work = eta_s if place <= NEAR_PLACES else running + (near_end - running) * place / NEAR_PLACES
            assert lua[job_id]["position"] == place
            assert lua[job_id]["eta"] == close_to(seconds_of_work / (1 + idle_workers)), job_id

    asyncio.run(compare())
