"""The Lua scripts count a quota exactly as `QuotaBook` does: the same refusals, the same usage, the same
reset times, whatever the traffic and the window.

The quota rule is written twice, in Python (`generation.queue.quota`, the in-process queue's) and in
Lua (the prelude's "quotas", SUBMIT and QUOTA). Hypothesis drives both with the same steps on the same
clock: time passing (up to 30 hours at a time, so windows turn over), submissions against one quota
key, and cancellations of jobs still counted. After every step both must agree on what was refused
(and when it frees up) and on `QuotaUsage`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generation.errors import QuotaExceededError
from generation.queue.allowance import DAY_S, Allowance, QuotaUsage, QuotaWindow
from generation.queue.quota import QuotaBook
from generation.queue.redis import scripts
from tests.fixtures.redis_server import RedisServer
from tests.queue.lua_scripts import Scripts, job_fields
from tests.queue.test_quota import START

KEY = "g1:ann"

Step = tuple[str, int]
"""("wait", seconds), ("submit", the quota it is submitted under; -1: none) or ("cancel", which counted job)."""

steps = st.lists(
    st.one_of(
        # Whole seconds from a clock on the hour, and exactly a day: the window's edges are hit.
        st.tuples(st.just("wait"), st.one_of(st.integers(1, 30 * 3600), st.sampled_from([3600, DAY_S - 1, DAY_S]))),
        st.tuples(st.just("submit"), st.integers(-1, 4)),  # an admin may change a quota at any time
        st.tuples(st.just("cancel"), st.integers(0, 50)),
    ),
    max_size=40,
)


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_server.url, decode_responses=True) as made:
        yield made


class Twins:
    """The same quota in a `QuotaBook` and in the scripts, under a fresh prefix, at the same time."""

    def __init__(self, client: redis.Redis, allowance: Allowance) -> None:
        self.allowance = allowance
        self.book = QuotaBook()
        self.lua = Scripts(client, f"quota-twin-{uuid.uuid4().hex[:10]}:")
        self.lua.now = START
        self.counted: list[str] = []
        self.submitted = 0

    @property
    def now(self) -> float:
        assert self.lua.now is not None
        return self.lua.now

    def quota(self) -> dict[str, Any]:
        argument: dict[str, Any] = {"key": KEY}
        if self.allowance.daily_quota is not None:
            argument["limit"] = self.allowance.daily_quota
        if self.allowance.window.reset_hour is not None:
            argument["reset_hour"] = self.allowance.window.reset_hour
        return argument

    def submit(self, limit: int) -> None:
        self.allowance = replace(self.allowance, daily_quota=None if limit < 0 else limit)
        self.submitted += 1
        job_id = f"job{self.submitted:04d}"
        try:
            self.book.check(self.allowance, self.now)
            python: QuotaExceededError | None = None
        except QuotaExceededError as refused:
            python = refused
        fields = job_fields(job_id, "ann", "[64]") | {"quota": KEY, "request": json.dumps({})}
        answer = self.lua(
            scripts.SUBMIT, id=job_id, owner="ann", fields=fields, max_jobs=10**6, max_per_user=10**6,
            quota=self.quota(),
        )  # fmt: skip
        if python is None:
            assert "error" not in answer, answer
            self.book.count(job_id, KEY, self.now)
            self.counted.append(job_id)
        else:
            assert answer.get("error") == "quota", answer
            lua = (answer["used"], answer["limit"], float(answer["resets_at"]))
            assert lua == (python.used, python.limit, python.resets_at)

    def cancel(self, which: int) -> None:
        if not self.counted:
            return
        job_id = self.counted.pop(which % len(self.counted))
        self.book.release(job_id)
        self.lua(scripts.CANCEL, id=job_id, by="ann")

    def agree(self) -> None:
        answer = self.lua(scripts.QUOTA, quota=self.quota())
        resets_at = float(answer["resets_at"]) if answer["resets_at"] else None
        lua = QuotaUsage(answer["used"], self.allowance.daily_quota, resets_at)
        assert lua == self.book.usage(self.allowance, self.now)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps, reset_hour=st.one_of(st.none(), st.sampled_from([0, 6, 13, 23])))
def test_lua_and_python_count_every_quota_the_same(
    client: redis.Redis, steps: list[Step], reset_hour: int | None
) -> None:
    twins = Twins(client, Allowance(quota_key=KEY, daily_quota=2, window=QuotaWindow(reset_hour)))
    try:
        for action, value in steps:
            if action == "wait":
                twins.lua.now = twins.now + value
            elif action == "submit":
                twins.submit(value)
            else:
                twins.cancel(value)
            twins.agree()
    finally:
        twins.lua.cleanup()
