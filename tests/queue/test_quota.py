"""Daily quotas, enforced by the queue as it accepts a job, on both backends.

A job counts against its allowance's quota key from its submission while it waits, runs and once it
succeeded; a failed or cancelled one gives its count back, a refused one never counted. The window is
the last 24 hours, or the day from a reset hour (UTC). Time is the queue's clock: a `FakeClock` that
starts at a known moment (13:00 UTC) and moves only when a test moves it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from dataclasses import replace

import pytest

from generation.errors import QuotaExceededError, UserQueueLimitError
from generation.queue.allowance import DAY_S, Allowance, QuotaUsage, QuotaWindow
from generation.queue.interface import JobCancelled, JobFailed, JobFinished, JobHandle, JobSpec, JobStarted, Person
from generation.queue.settings import QueueSettings
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FakeGenerator
from tests.queue.conftest import MakeQueue, events_of, first, spec

START = dt.datetime(2026, 12, 7, 13, 0, tzinfo=dt.UTC).timestamp()
NEXT_SIX_AM = dt.datetime(2026, 12, 8, 6, 0, tzinfo=dt.UTC).timestamp()


@pytest.fixture
def clock() -> FakeClock:
    """The queues' time, from 13:00 UTC on a known day."""
    return FakeClock(start=START)


def allowance(owner: str, quota: int | None = 2, *, reset_hour: int | None = None, **more: int) -> Allowance:
    """`owner`'s allowance in guild g1, one quota key per member and server as the bot makes them."""
    return Allowance(quota_key=f"g1:{owner}", daily_quota=quota, window=QuotaWindow(reset_hour), **more)


def limited(owner: str, quota: int | None = 2, *, prompt: str = "a cat surfing", **options: int | None) -> JobSpec:
    """A job of `owner` under `allowance(owner, quota, ...)`."""
    return replace(spec(owner, prompt), allowance=allowance(owner, quota, **options))  # type: ignore[arg-type]


async def delivered(handle: JobHandle) -> None:
    """Until the job succeeded."""
    assert isinstance((await events_of(handle))[-1], JobFinished)


async def test_a_used_up_quota_refuses_the_next_job_saying_when_the_oldest_frees_one(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    queue = await make_queue()
    await delivered(await queue.submit(limited("ann")))
    clock.advance(600)
    await delivered(await queue.submit(limited("ann")))

    with pytest.raises(QuotaExceededError) as refused:
        await queue.submit(limited("ann"))

    assert (refused.value.used, refused.value.limit, refused.value.resets_at) == (2, 2, START + DAY_S)


async def test_a_rolling_quota_frees_one_video_24_hours_after_the_oldest_counted_job(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    queue = await make_queue()
    await delivered(await queue.submit(limited("ann")))
    clock.advance(600)
    await delivered(await queue.submit(limited("ann")))
    clock.advance(DAY_S - 600 - 1)
    with pytest.raises(QuotaExceededError):
        await queue.submit(limited("ann"))

    clock.advance(1)
    await delivered(await queue.submit(limited("ann")))

    assert await queue.quota_usage(allowance("ann")) == QuotaUsage(2, 2, START + 600 + DAY_S)


async def test_a_quota_from_a_reset_hour_frees_every_video_at_the_next_such_hour(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    queue = await make_queue()
    await delivered(await queue.submit(limited("ann", reset_hour=6)))
    await delivered(await queue.submit(limited("ann", reset_hour=6)))
    with pytest.raises(QuotaExceededError) as refused:
        await queue.submit(limited("ann", reset_hour=6))
    assert refused.value.resets_at == NEXT_SIX_AM

    clock.advance(NEXT_SIX_AM - clock.time())
    await delivered(await queue.submit(limited("ann", reset_hour=6)))

    assert await queue.quota_usage(allowance("ann", reset_hour=6)) == QuotaUsage(1, 2, NEXT_SIX_AM + DAY_S)


async def test_usage_says_what_is_used_and_left_and_when_the_window_next_frees_one(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    queue = await make_queue()
    assert await queue.quota_usage(allowance("ann", 3)) == QuotaUsage(0, 3, None)

    await delivered(await queue.submit(limited("ann", 3)))
    usage = await queue.quota_usage(allowance("ann", 3))

    assert (usage.used, usage.left, usage.resets_at) == (1, 2, START + DAY_S)


async def test_a_failed_job_gives_its_quota_back(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    failing = await queue.submit(limited("ann", 1, prompt="FAIL please"))
    assert isinstance((await events_of(failing))[-1], JobFailed)

    assert (await queue.quota_usage(allowance("ann", 1))).used == 0
    await delivered(await queue.submit(limited("ann", 1)))


async def test_a_cancelled_job_gives_its_quota_back(make_queue: MakeQueue, clock: FakeClock) -> None:
    generator = FakeGenerator(hold_steps=True, clock=clock)
    queue = await make_queue(generator)
    await queue.submit(spec("bob"))  # held at its first step: ann's job waits behind it
    waiting = await queue.submit(limited("ann", 1))
    with pytest.raises(QuotaExceededError):
        await queue.submit(limited("ann", 1))

    await queue.cancel(waiting.info.job_id, Person("ann"))
    assert isinstance((await events_of(waiting))[-1], JobCancelled)

    assert (await queue.quota_usage(allowance("ann", 1))).used == 0
    again = await queue.submit(limited("ann", 1))
    assert again.info.spec.allowance == allowance("ann", 1)


async def test_waiting_and_running_jobs_count_before_they_are_delivered(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    generator = FakeGenerator(hold_steps=True, clock=clock)
    queue = await make_queue(generator)
    running = await queue.submit(limited("ann"))
    await first(running, JobStarted)
    await queue.submit(limited("ann"))  # waits behind it

    with pytest.raises(QuotaExceededError):
        await queue.submit(limited("ann"))
    assert (await queue.quota_usage(allowance("ann"))).used == 2


async def test_each_quota_key_counts_on_its_own(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    await delivered(await queue.submit(limited("ann", 1)))

    await delivered(await queue.submit(limited("bob", 1)))
    in_another_server = replace(limited("ann", 1), allowance=replace(allowance("ann", 1), quota_key="g2:ann"))
    await delivered(await queue.submit(in_another_server))


async def test_concurrent_submissions_take_exactly_the_videos_left(make_queue: MakeQueue, clock: FakeClock) -> None:
    queue = await make_queue(FakeGenerator(hold_steps=True, clock=clock))

    outcomes = await asyncio.gather(
        *(queue.submit(limited("ann", 3, max_held=10)) for _ in range(8)), return_exceptions=True
    )

    accepted = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, QuotaExceededError)]
    assert (len(accepted), len(refused)) == (3, 5)
    assert (await queue.quota_usage(allowance("ann", 3))).used == 3


async def test_a_restarted_queue_keeps_counting_what_was_used(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    await delivered(done := await queue.submit(limited("ann")))
    await events_of(await queue.submit(limited("ann", prompt="FAIL this one")))
    await queue.close()

    restarted = await make_queue()

    assert (await restarted.quota_usage(allowance("ann"))).used == 1
    assert (await restarted.get(done.info.job_id)).spec.allowance == allowance("ann")
    await delivered(await restarted.submit(limited("ann")))
    with pytest.raises(QuotaExceededError):
        await restarted.submit(limited("ann"))


async def test_a_job_without_a_quota_key_counts_nowhere_and_one_without_a_limit_is_never_refused(
    make_queue: MakeQueue,
) -> None:
    queue = await make_queue()
    for _ in range(3):
        await delivered(await queue.submit(spec("ann")))
        await delivered(await queue.submit(limited("bob", None)))

    assert await queue.quota_usage(allowance("bob", None)) == QuotaUsage(3, None, START + DAY_S)
    assert (await queue.quota_usage(allowance("ann", None))).used == 0


async def test_a_quota_of_zero_refuses_every_job_until_the_window_ends(make_queue: MakeQueue) -> None:
    queue = await make_queue()

    with pytest.raises(QuotaExceededError) as refused:
        await queue.submit(limited("ann", 0, reset_hour=6))

    assert (refused.value.used, refused.value.limit, refused.value.resets_at) == (0, 0, NEXT_SIX_AM)


async def test_max_held_replaces_the_per_owner_cap_for_that_submission(make_queue: MakeQueue, clock: FakeClock) -> None:
    queue = await make_queue(FakeGenerator(hold_steps=True, clock=clock), queue_max_per_user=2)
    for _ in range(3):
        await queue.submit(limited("ann", None, max_held=3))

    with pytest.raises(UserQueueLimitError, match="limit: 3"):
        await queue.submit(limited("ann", None, max_held=3))
    with pytest.raises(UserQueueLimitError, match="limit: 2"):
        await queue.submit(spec("ann"))


@pytest.mark.local_only  # about the SQLite schema
async def test_a_database_from_before_allowances_keeps_its_jobs_which_limit_nothing(
    make_queue: MakeQueue, queue_settings: QueueSettings
) -> None:
    before = await make_queue()
    handle = await before.submit(spec("ann"))
    await delivered(handle)
    await before.close()
    with sqlite3.connect(queue_settings.database_path) as conn:
        conn.execute("ALTER TABLE jobs DROP COLUMN allowance")  # as the jobs table's version 1 had it
        conn.execute("UPDATE schema_versions SET version = 1 WHERE component = 'jobs'")

    upgraded = await make_queue()

    assert (await upgraded.get(handle.info.job_id)).spec.allowance == Allowance()
    await delivered(await upgraded.submit(limited("ann", 1)))
    assert (await upgraded.quota_usage(allowance("ann", 1))).used == 1
