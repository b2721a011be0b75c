"""The Lua scripts keep `FairScheduler`'s order exactly: the same line, the same batches and the same
places, whatever happens.

A state machine drives the scripts (through a plain Redis client, on a prefix of their own) and a
`FairScheduler` side by side with random submissions, takes of batches, cancellations (of the head
too), endings, put-backs and reclaims, and checks after each step that both list the same waiting jobs
in the same order, that `VIEW` gives each its place in that order, and that each was last told that
place. Each submission draws a weight (its owner's turns per round), so owners' weights change as
they submit. An owner whose last job is taken and who submits again in the same round, or whose job comes
back to the front of a line it had left, arises from the traffic itself.

With models (`LuaLanesMachine`), each model's jobs are a line of their own, kept as a `FairScheduler`
keeps one, and a worker serving a model takes the head of its model's line or of the model-less one,
whichever was submitted first.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator

import pytest
import redis
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from generation.errors import InvalidRequestError
from generation.queue.allowance import Allowance
from generation.queue.redis import scripts
from generation.queue.scheduler import FairScheduler, Ticket
from tests.fixtures.redis_server import RedisServer
from tests.queue.lua_scripts import LEASE_S, Scripts

SHAPES = {"small": json.dumps([64, 64]), "wide": json.dumps([128, 64])}
WEIGHTS = st.integers(1, 3)
"""Each submission's weight: its owner's turns per round from then on."""


class PutBackScheduler(FairScheduler):
    """`FairScheduler` with the Redis backend's put-back, which the in-process queue has no use for.

    As `requeue` in the prelude: a job handed back goes to the front of its owner's line; an owner with
    no line left starts one as a new submission would (with the turns it has left this round, else in
    the next round), with a new stamp.
    """

    def put_back(self, job_id: str, *, alone: bool) -> None:
        """Move a running job back to the front of its owner's line (`alone` marks it, as a reclaim does)."""
        ticket = self._running.pop(job_id)
        ticket = dataclasses.replace(ticket, alone=alone or ticket.alone)  # a mark, once set, stays
        line = self._lines.get(ticket.owner_id) or self._open_line(ticket)
        line.jobs.appendleft(ticket)
        self._waiting[job_id] = ticket
        self.version += 1


@pytest.fixture(scope="module")
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


class LuaLineMachine(RuleBasedStateMachine):
    """Random traffic through the scripts and through `FairScheduler`, compared step by step."""

    client: redis.Redis

    def __init__(self) -> None:
        super().__init__()
        self.lua = Scripts(self.client)
        self.lua.now = 1_000.0
        self.reference = PutBackScheduler(max_waiting=1000, max_per_owner=1000)
        self.ids = itertools.count(1)
        self.running: dict[str, tuple[str, float]] = {}  # job id -> (token, lease deadline)

    def tick(self) -> None:
        assert self.lua.now is not None
        self.lua.now += 1.0

    @rule(owner=st.sampled_from("abcd"), shape=st.sampled_from(sorted(SHAPES)), weight=WEIGHTS)
    def submit(self, owner: str, shape: str, weight: int) -> None:
        job_id = f"{owner}{next(self.ids)}"
        answer = self.lua.submit(job_id, owner, SHAPES[shape], weight=weight)
        assert "error" not in answer
        self.reference.push(Ticket(job_id, owner, SHAPES[shape], weight=weight))

    @precondition(lambda self: self.reference.waiting_count > 0)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from([t.job_id for t in self.reference.order()]))
        self.lua(scripts.CANCEL, id=job_id, by="someone")
        self.reference.remove(job_id)

    @precondition(lambda self: self.reference.waiting_count > 0)
    @rule()
    def cancel_the_head(self) -> None:
        head = self.reference.order()[0].job_id
        self.lua(scripts.CANCEL, id=head, by="someone")
        self.reference.remove(head)

    @rule(size=st.integers(1, 3))
    def take(self, size: int) -> None:
        self.tick()
        answer = self.lua(scripts.TAKE, worker="w", default=size, by_shape={})
        taken = [job["id"] for job in answer["jobs"] or []]
        expected = [t.job_id for t in self.reference.pop_batch(size)]
        assert taken == expected
        assert self.lua.now is not None
        self.running.update((job_id, (answer["token"], self.lua.now + LEASE_S)) for job_id in taken)

    @precondition(lambda self: bool(self.running))
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.running)))
        token, _ = self.running.pop(job_id)
        answer = self.lua(scripts.END, worker="w", token=token, id=job_id, ending={"kind": "failed", "reason": "x"})
        assert answer["ended"]
        self.reference.finish(job_id)

    @precondition(lambda self: bool(self.running))
    @rule(data=st.data())
    def put_back(self, data: st.DataObject) -> None:
        token = data.draw(st.sampled_from(sorted({token for token, _ in self.running.values()})))
        batch = [job_id for job_id, (held, _) in self.running.items() if held == token]
        self.lua(scripts.PUT_BACK, token=token, ids=batch)
        for job_id in batch:
            del self.running[job_id]
            self.reference.put_back(job_id, alone=False)

    @precondition(lambda self: bool(self.running))
    @rule()
    def reclaim(self) -> None:
        self.lua.now = max(deadline for _, deadline in self.running.values()) + 1.0
        answer = self.lua(scripts.RECLAIM, max_attempts=1000)
        # In the order RECLAIM meets them: by lease deadline, then id.
        expired = sorted(self.running, key=lambda job_id: (self.running[job_id][1], job_id))
        assert answer["expired"] == expired
        for job_id in expired:
            del self.running[job_id]
            self.reference.put_back(job_id, alone=True)

    @invariant()
    def same_line(self) -> None:
        assert self.lua.line() == [t.job_id for t in self.reference.order()]

    @invariant()
    def every_place_is_its_place_in_the_line_and_was_told(self) -> None:
        waiting = [t.job_id for t in self.reference.order()]
        places = self.lua.places(waiting + sorted(self.running))
        assert places == {job_id: place for place, job_id in enumerate(waiting, 1)} | dict.fromkeys(self.running, 0)
        assert [self.lua.told(job_id) for job_id in waiting] == list(range(1, len(waiting) + 1))

    def teardown(self) -> None:
        self.lua.cleanup()


LuaLineMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


def test_the_lua_line_is_fair_schedulers_line(redis_client: redis.Redis) -> None:
    LuaLineMachine.client = redis_client
    LuaLineMachine.TestCase().runTest()


MODELS = ("", "fast", "quality")
"""The lanes: jobs any worker runs (''), and the jobs of two served models."""


class LuaLanesMachine(RuleBasedStateMachine):
    """Random traffic over several models through the scripts, against one `FairScheduler` per model
    (per lane: see `scripts.py`): a worker serving a model takes from its model's lane or from lane '',
    the head submitted first of the two; its batch comes from that lane alone."""

    client: redis.Redis

    def __init__(self) -> None:
        super().__init__()
        self.lua = Scripts(self.client)
        self.lua.now = 1_000.0
        self.lanes = {model: PutBackScheduler(max_waiting=1000, max_per_owner=1000) for model in MODELS}
        self.ids = itertools.count(1)
        self.seq: dict[str, int] = {}  # job id -> submission order
        self.lane: dict[str, str] = {}  # job id -> its model
        self.running: dict[str, str] = {}  # job id -> token

    @rule(
        owner=st.sampled_from("abcd"), model=st.sampled_from(MODELS), shape=st.sampled_from(sorted(SHAPES)),
        weight=WEIGHTS,
    )  # fmt: skip
    def submit(self, owner: str, model: str, shape: str, weight: int) -> None:
        job_id = f"{owner}{next(self.ids)}"
        assert "error" not in self.lua.submit(job_id, owner, SHAPES[shape], model, weight)
        self.seq[job_id], self.lane[job_id] = len(self.seq), model
        self.lanes[model].push(Ticket(job_id, owner, SHAPES[shape], weight=weight))

    @rule(model=st.sampled_from(MODELS), size=st.integers(1, 3))
    def take(self, model: str, size: int) -> None:
        answer = self.lua(scripts.TAKE, worker=f"w-{model}", model=model, default=size, by_shape={})
        taken = [job["id"] for job in answer["jobs"] or []]
        heads = [
            (self.seq[lane.order()[0].job_id], lane) for lane in {self.lanes[""], self.lanes[model]} if lane.order()
        ]
        expected = [t.job_id for t in min(heads, key=lambda head: head[0])[1].pop_batch(size)] if heads else []
        assert taken == expected
        assert len({self.lane[job_id] for job_id in taken}) <= 1  # one model per batch
        self.running.update(dict.fromkeys(taken, answer.get("token", "")))

    @precondition(lambda self: bool(self.running))
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.running)))
        token = self.running.pop(job_id)
        assert self.lua(scripts.END, worker="w", token=token, id=job_id, ending={"kind": "failed", "reason": "x"})[
            "ended"
        ]
        self.lanes[self.lane[job_id]].finish(job_id)

    @precondition(lambda self: bool(self.running))
    @rule(data=st.data())
    def put_back(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.running)))
        self.lua(scripts.PUT_BACK, token=self.running.pop(job_id), ids=[job_id])
        self.lanes[self.lane[job_id]].put_back(job_id, alone=False)

    @precondition(lambda self: any(lane.waiting_count for lane in self.lanes.values()))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        waiting = [t.job_id for lane in self.lanes.values() for t in lane.order()]
        job_id = data.draw(st.sampled_from(waiting))
        self.lua(scripts.CANCEL, id=job_id, by="someone")
        self.lanes[self.lane[job_id]].remove(job_id)

    @invariant()
    def each_lane_is_its_models_fair_line_and_places_count_within_it(self) -> None:
        lines = {model: [t.job_id for t in lane.order()] for model, lane in self.lanes.items()}
        assert self.lua.line() == [job_id for model in MODELS for job_id in lines[model]]
        places = {job_id: place for line in lines.values() for place, job_id in enumerate(line, 1)}
        assert self.lua.places(list(places)) == places
        assert {job_id: self.lua.told(job_id) for job_id in places} == places

    def teardown(self) -> None:
        self.lua.cleanup()


LuaLanesMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


def test_each_models_lane_is_a_fair_schedulers_line_and_takes_follow_submission_across_lanes(
    redis_client: redis.Redis,
) -> None:
    LuaLanesMachine.client = redis_client
    LuaLanesMachine.TestCase().runTest()


def test_a_line_written_before_weights_keeps_its_order_and_its_places(redis_client: redis.Redis) -> None:
    lua = Scripts(redis_client)
    lua.now = 1_000.0
    reference = FairScheduler(max_waiting=1000, max_per_owner=1000)

    def submit(job_id: str) -> None:
        assert "error" not in lua.submit(job_id, job_id[0], SHAPES["small"], weight=None)
        reference.push(Ticket(job_id, job_id[0], SHAPES["small"]))

    def take() -> None:
        taken = [job["id"] for job in lua(scripts.TAKE, worker="w", default=1, by_shape={})["jobs"]]
        assert taken == [t.job_id for t in reference.pop_batch()]
        redis_client.delete(f"{lua.prefix}turns")  # the scripts before weights kept `served` alone

    try:
        for job_id in ["a1", "b1", "b2", "b3", "c1"]:
            submit(job_id)
        take()
        take()
        submit("a2")  # a was served this round: with no count of its turns, it had one, so it waits
        submit("d1")

        assert lua.line() == [t.job_id for t in reference.order()] == ["c1", "d1", "b2", "a2", "b3"]
        assert lua.places(lua.line()) == {job_id: place for place, job_id in enumerate(lua.line(), 1)}
    finally:
        lua.cleanup()


@pytest.mark.parametrize("weight", [10, 11])
def test_the_scripts_take_the_weights_an_allowance_takes_and_count_any_other_as_one(
    redis_client: redis.Redis, weight: int
) -> None:
    lua = Scripts(redis_client)
    try:
        jobs = [f"a{n}" for n in range(weight + 1)]
        for job_id in jobs:
            lua.submit(job_id, "a", SHAPES["small"], weight=weight)
        lua.submit("b1", "b", SHAPES["small"])
        try:
            turns = Allowance(weight=weight).weight
        except InvalidRequestError:
            turns = 1

        assert lua.line() == [*jobs[:turns], "b1", *jobs[turns:]]
    finally:
        lua.cleanup()
