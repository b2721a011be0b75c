"""Several models over Redis: each job runs only on a worker serving the model it names, a model no live
worker serves waits for one, and each model's places and ETAs count only that model's line and workers.

A fleet here is one bot and workers serving models by name, in this process, on one Redis. As in
`test_redis_only`, a worker "dies" by going silent: its tick clock never moves, so it heartbeats only
when the test says so, and the test moves the queue's clock past its lease. Nothing waits on real time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from generation.config import EngineSettings
from generation.errors import DamagedJobError
from generation.queue.interface import JobCancelled, JobFailed, JobFinished, JobStatus, Person
from generation.queue.reasons import DAMAGED_JOB
from generation.queue.redis import scripts
from generation.queue.redis.prelude import NEAR_PLACES
from generation.queue.redis.queue import RedisJobQueue
from generation.queue.redis.source import RedisJobSource
from generation.queue.redis.verbs import QueueVerbs, connect
from generation.queue.settings import QueueSettings
from generation.queue.source import BatchLimits
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FakeGenerator
from tests.fakes.redis_queue import redis_queue, worker_host
from tests.fixtures.redis_server import RedisServer
from tests.queue.conftest import events_of, spec, stub_encoder
from tests.queue.lua_scripts import Scripts

LEASE_S = 30.0
PROFILES = {"fast": "ltx-video", "classic": "modelscope-t2v", "quality": "wan2.1-t2v-14b"}
"""The profile each model name is served with here."""


@dataclass
class Fleet:
    """A bot and workers serving models by name on one Redis (one key prefix), all closed after the test."""

    url: str
    prefix: str
    settings: QueueSettings
    engine: EngineSettings
    clock: FakeClock
    tmp_path: Path
    closers: list[Callable[[], Any]] = field(default_factory=list)

    async def bot(self) -> RedisJobQueue:
        """A started bot process's queue."""
        queue = redis_queue(self.url, self.prefix, self.settings, self.tmp_path / "bot", self.clock)
        self.closers.append(queue.close)
        await queue.start()
        return queue

    async def worker(self, name: str, model: str) -> tuple[RedisJobSource, FakeGenerator]:
        """A running worker serving `model`: its source (to heartbeat by hand) and its generator."""
        generator = FakeGenerator(clock=self.clock)
        host, source = worker_host(
            self.url, self.prefix, self.settings, self.engine.model_copy(update={"output_dir": self.tmp_path / name}),
            generator, self.clock, name=name, model=model, profile=PROFILES[model], encoder=stub_encoder,
        )  # fmt: skip
        self.closers.append(host.close)
        await host.start()
        return source, generator

    async def hand(self, name: str, model: str) -> RedisJobSource:
        """A worker serving `model`, driven by hand through its source."""
        _, source = worker_host(
            self.url, self.prefix, self.settings, self.engine, FakeGenerator(), self.clock, name=name, model=model,
            profile=PROFILES[model],
        )  # fmt: skip
        self.closers.append(source.close)
        await source.start()
        return source


@pytest.fixture
async def fleet(
    redis_server: RedisServer,
    redis_prefix: str,
    queue_settings: QueueSettings,
    engine_settings: EngineSettings,
    clock: FakeClock,
    tmp_path: Path,
) -> AsyncIterator[Fleet]:
    settings = queue_settings.model_copy(update={"queue_lease_s": LEASE_S})
    made = Fleet(redis_server.url, redis_prefix, settings, engine_settings, clock, tmp_path)
    yield made
    for close in reversed(made.closers):
        await close()


def models_run(generator: FakeGenerator) -> list[str | None]:
    """The model each request the generator was given names, in the order it ran them."""
    return [request.model for call in generator.calls for request in call]


async def test_each_job_runs_on_a_worker_serving_the_model_it_names(fleet: Fleet) -> None:
    bot = await fleet.bot()
    _, fast = await fleet.worker("fast-1", "fast")
    _, classic = await fleet.worker("classic-1", "classic")

    handles = [await bot.submit(spec(owner, model=model)) for owner in ("ann", "bob") for model in ("fast", "classic")]

    ends = [(await events_of(handle))[-1] for handle in handles]
    assert all(isinstance(end, JobFinished) for end in ends)
    assert (models_run(fast), models_run(classic)) == (["fast", "fast"], ["classic", "classic"])


async def test_a_job_for_a_model_no_live_worker_serves_waits_is_counted_and_runs_once_one_registers(
    fleet: Fleet,
) -> None:
    bot = await fleet.bot()
    await fleet.worker("fast-1", "fast")
    waiting = await bot.submit(spec("ann", model="quality"))

    flowed = await bot.submit(spec("bob", model="fast"))  # submitted later, run first: nobody serves quality
    assert isinstance((await events_of(flowed))[-1], JobFinished)
    info = await bot.get(waiting.info.job_id)
    assert (info.status, info.position, info.eta_s) == (JobStatus.QUEUED, 1, None)
    assert (await bot.stats()).waiting_by_model == (("quality", 1),)
    assert [model.name for model in await bot.models()] == ["fast"]

    _, quality = await fleet.worker("quality-1", "quality")

    assert isinstance((await events_of(waiting))[-1], JobFinished)
    assert models_run(quality) == ["quality"]
    assert (await bot.stats()).waiting_by_model == ()


async def test_an_admin_cancels_a_job_that_waits_for_a_model_nobody_serves(fleet: Fleet) -> None:
    bot = await fleet.bot()
    handle = await bot.submit(spec("ann", model="quality"))

    await bot.cancel(handle.info.job_id, Person("admin"))

    assert (await events_of(handle))[-1] == JobCancelled(handle.info.job_id, Person("admin"))
    assert (await bot.stats()).waiting_by_model == ()


async def test_a_silent_worker_of_one_model_leaves_its_job_waiting_while_the_other_models_jobs_flow(
    fleet: Fleet,
) -> None:
    bot = await fleet.bot()
    fast_source, fast = await fleet.worker("fast-1", "fast")
    silent = await fleet.hand("classic-1", "classic")
    stuck = await bot.submit(spec("ann", model="classic"))
    [taken] = await silent.take(BatchLimits(1)) or []
    await silent.begin([taken.job_id])

    fleet.clock.advance(LEASE_S + 1)
    await fast_source.heartbeat()  # the fast worker lives on; classic-1 went silent
    assert await bot.reclaim() == [stuck.info.job_id]
    flowing = [await bot.submit(spec(owner, model="fast")) for owner in ("bob", "cid", "dan")]

    ends = [(await events_of(handle))[-1] for handle in flowing]
    assert all(isinstance(end, JobFinished) for end in ends)
    assert models_run(fast) == ["fast"] * 3
    assert (await bot.get(stuck.info.job_id)).status is JobStatus.QUEUED
    assert [(model.name, model.workers) for model in await bot.models()] == [("classic", 0), ("fast", 1)]
    assert (await bot.stats()).waiting_by_model == (("classic", 1),)
    _, classic = await fleet.worker("classic-2", "classic")
    assert isinstance((await events_of(stuck))[-1], JobFinished)
    assert models_run(classic) == ["classic"]


async def test_a_members_job_for_an_idle_model_is_not_held_behind_their_own_job_for_a_busy_one(
    fleet: Fleet,
) -> None:
    bot = await fleet.bot()
    anns_quality = await bot.submit(spec("ann", "first", model="quality"))
    anns_fast = await bot.submit(spec("ann", "second", model="fast"))
    bobs_fast = await bot.submit(spec("bob", "third", model="fast"))
    fast = await fleet.hand("fast-1", "fast")

    taken = [(await fast.take(BatchLimits(1)) or [])[0].job_id for _ in range(2)]

    # ann's fast job is her first in the fast line: her quality job ahead takes no turn of hers there.
    assert taken == [anns_fast.info.job_id, bobs_fast.info.job_id]
    assert (await bot.get(anns_quality.info.job_id)).position == 1


async def test_models_lists_each_name_live_workers_serve_and_ignores_hostile_adverts(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await fleet.bot()
    for name, model in (("fast-1", "fast"), ("fast-2", "fast"), ("classic-1", "classic")):
        await fleet.hand(name, model)
    client = redis.Redis.from_url(fleet.url, decode_responses=True)
    hostile = {
        "evil-1": {"serves": "no such/name", "profile": "ltx-video"},
        "evil-2": {"serves": "quality", "profile": "a-profile-nobody-ships"},
        "evil-3": {"serves": "fast", "profile": "modelscope-t2v"},  # another profile than fast's workers
    }
    for worker, advert in hostile.items():
        client.hset(f"{fleet.prefix}worker:{worker}", mapping=advert | {"state": "running"})
        client.zadd(f"{fleet.prefix}workers", {worker: fleet.clock.time()})
    client.close()

    with caplog.at_level(logging.WARNING, logger="generation.queue.redis.queue"):
        served = await bot.models()

    assert [(model.name, model.profile.name, model.workers) for model in served] == [
        ("classic", "modelscope-t2v", 1),
        ("fast", "ltx-video", 2),
    ]
    warned = "\n".join(record.getMessage() for record in caplog.records)
    assert all(worker in warned for worker in hostile)
    assert "no such/name" not in warned  # what Redis held is not echoed


async def test_a_job_whose_model_field_was_changed_in_redis_is_failed_as_damaged_not_run(fleet: Fleet) -> None:
    bot = await fleet.bot()
    handle = await bot.submit(spec("ann", model="fast"))
    client = redis.Redis.from_url(fleet.url, decode_responses=True)
    client.hset(f"{fleet.prefix}job:{handle.info.job_id}", "model", "classic")  # its request still says fast
    client.close()
    with pytest.raises(DamagedJobError):
        await bot.get(handle.info.job_id)

    _, fast = await fleet.worker("fast-1", "fast")

    assert (await events_of(handle))[-1] == JobFailed(handle.info.job_id, DAMAGED_JOB)
    assert fast.calls == []


# -- places and ETAs, through the scripts -----------------------------------------------------------

SHAPE = json.dumps([64, 64])


@pytest.fixture
def lua(redis_server: RedisServer) -> Iterator[Scripts]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    scripts_ = Scripts(client)
    scripts_.now = 1_000.0
    yield scripts_
    scripts_.cleanup()
    client.close()


def test_a_place_and_eta_count_the_jobs_ahead_for_the_same_model_over_its_live_workers_at_its_pace(
    lua: Scripts,
) -> None:
    for model, seconds in (("quality", "10.0"), ("fast", "2.0")):
        lua(scripts.LEARN, shape=SHAPE, cost="1.0", seconds=seconds, after="0", window=20, model=model)
    for worker, model in (("q1", "quality"), ("q2", "quality"), ("f1", "fast")):
        lua(scripts.HEARTBEAT, worker=worker, held={}, record={}, model=model, gone_s=3600)
    models = ["quality", "fast", "classic"] * 2 + ["quality"]
    for i, model in enumerate(models):
        lua.submit(f"job{i}", f"user{i}", SHAPE, model)

    rows = lua(scripts.VIEW, ids=[f"job{i}" for i in range(len(models))])["jobs"]

    assert [(row["model"], row["position"], row.get("eta")) for row in rows] == [
        ("quality", 1, 5.0),  # 10 s per job, two workers
        ("fast", 1, 2.0),
        ("classic", 1, None),  # nobody serves it: no ETA
        ("quality", 2, 10.0),
        ("fast", 2, 4.0),
        ("classic", 2, None),
        ("quality", 3, 15.0),
    ]


async def test_a_pass_of_far_places_tells_the_far_jobs_of_every_models_lane(
    redis_server: RedisServer, redis_prefix: str, clock: FakeClock, lua: Scripts
) -> None:
    lua.prefix = redis_prefix
    depth, taken = 2 * NEAR_PLACES, 20
    for model in ("fast", "quality"):
        for i in range(depth):
            lua.submit(f"{model}{i}", f"user{i}", SHAPE, model)
        for _ in range(taken):
            lua(scripts.TAKE, worker=f"{model}-1", model=model, default=1, by_shape={})
    verbs = QueueVerbs(connect(redis_server.url), prefix=redis_prefix, lease_s=LEASE_S, test_clock=clock)

    told = await verbs.far_places(every_s=5.0)

    # Each far job moved up 20 places, more than a tenth of where it was: all are told, in both lanes.
    assert told == 2 * (depth - NEAR_PLACES - taken)
    assert [lua.told(f"{model}{depth - 1}") for model in ("fast", "quality")] == [depth - taken] * 2
    await verbs.client.aclose()


def test_the_waiting_jobs_of_every_lane_are_listed_page_by_page_and_cleared_from_the_end(lua: Scripts) -> None:
    for i, model in enumerate(["", "fast", "quality"] * 3):
        lua.submit(f"job{i}", f"user{i % 2}", SHAPE, model)
    whole = lua.line()
    listed, start = [], 1
    while True:
        page = lua(scripts.ACTIVE, start=start, count=2)
        listed += page["ids"] or []
        if not page["more"]:
            break
        start += 2

    cleared = []
    for count in (4, 200):  # a clear runs in chunks, each from the end of the lanes
        cleared += [job["id"] for job in lua(scripts.CLEAR, by="admin", count=count)["jobs"]]

    assert len(whole) == 9
    assert listed == whole
    assert cleared[::-1] == whole
    assert lua.line() == []
    assert lua.client.hgetall(f"{lua.prefix}lanes") == {}  # nothing waits for any model


async def test_both_backends_serve_the_engines_model_under_its_profiles_name(make_queue: Any) -> None:
    queue = await make_queue()

    [served] = await queue.models()

    assert (served.name, served.profile.name, served.workers) == ("modelscope-t2v", "modelscope-t2v", 1)
    handle = await queue.submit(spec("ann", model=served.name))
    assert isinstance((await events_of(handle))[-1], JobFinished)
