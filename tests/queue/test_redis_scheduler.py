"""The Lua scripts keep `FairScheduler`'s order exactly: the same line and the same batches, whatever happens.

A state machine drives the scripts (through a plain Redis client, on a prefix of their own) and a
`FairScheduler` side by side with random submissions, takes of batches, cancellations and endings,
and checks after each step that both list the same waiting jobs in the same order.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Any

import pytest
import redis
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from generation.queue.redis import scripts
from generation.queue.scheduler import FairScheduler, Ticket
from tests.fixtures.redis_server import RedisServer

SHAPES = {"small": json.dumps([64, 64]), "wide": json.dumps([128, 64])}


class Scripts:
    """The scripts called as `Commands` calls them, synchronously, under one prefix."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._prefix = f"prop-{uuid.uuid4().hex[:10]}:"
        self._loaded: dict[str, Any] = {}

    def __call__(self, source: str, **arguments: Any) -> dict[str, Any]:
        script = self._loaded.get(source)
        if script is None:
            script = self._loaded[source] = self._client.register_script(source)
        arguments.setdefault("lease", 30.0)
        answer: dict[str, Any] = json.loads(script(args=[self._prefix, repr(time.time()), json.dumps(arguments)]))
        return answer

    def line(self) -> list[str]:
        ids = self(scripts.ACTIVE)["ids"]
        running = set(self._client.zrange(f"{self._prefix}running", 0, -1))
        return [job_id for job_id in (ids or []) if job_id not in running]

    def cleanup(self) -> None:
        for key in self._client.scan_iter(f"{self._prefix}*"):
            self._client.delete(key)


@pytest.fixture(scope="module")
def redis_client(redis_server: RedisServer) -> Any:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


class LuaLineMachine(RuleBasedStateMachine):
    """Random traffic through the scripts and through `FairScheduler`, compared step by step."""

    client: redis.Redis

    def __init__(self) -> None:
        super().__init__()
        self.lua = Scripts(self.client)
        self.reference = FairScheduler(max_waiting=1000, max_per_owner=1000)
        self.ids = itertools.count(1)
        self.running: dict[str, str] = {}  # job id -> token

    @rule(owner=st.sampled_from("abcd"), shape=st.sampled_from(sorted(SHAPES)))
    def submit(self, owner: str, shape: str) -> None:
        job_id = f"{owner}{next(self.ids)}"
        fields = {"id": job_id, "owner": owner, "origin": "bot", "shape": SHAPES[shape], "cost": "1.0"}
        answer = self.lua(scripts.SUBMIT, id=job_id, owner=owner, fields=fields, max_jobs=1000, max_per_user=1000)
        assert "error" not in answer
        self.reference.push(Ticket(job_id, owner, SHAPES[shape]))

    @precondition(lambda self: self.reference.waiting_count > 0)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from([t.job_id for t in self.reference.order()]))
        self.lua(scripts.CANCEL, id=job_id, by="someone")
        self.reference.remove(job_id)

    @rule(size=st.integers(1, 3))
    def take(self, size: int) -> None:
        answer = self.lua(scripts.TAKE, worker="w", default=size, by_shape={})
        taken = [job["id"] for job in answer["jobs"] or []]
        expected = [t.job_id for t in self.reference.pop_batch(size)]
        assert taken == expected
        self.running.update((job_id, answer["token"]) for job_id in taken)

    @precondition(lambda self: bool(self.running))
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.running)))
        token = self.running.pop(job_id)
        answer = self.lua(scripts.END, worker="w", token=token, id=job_id, ending={"kind": "failed", "reason": "x"})
        assert answer["ended"]
        self.reference.finish(job_id)

    @invariant()
    def same_line(self) -> None:
        assert self.lua.line() == [t.job_id for t in self.reference.order()]

    def teardown(self) -> None:
        self.lua.cleanup()


LuaLineMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)


def test_the_lua_line_is_fair_schedulers_line(redis_client: redis.Redis) -> None:
    LuaLineMachine.client = redis_client
    LuaLineMachine.TestCase().runTest()
