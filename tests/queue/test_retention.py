"""Delivered videos are deleted once VIDEO_RETENTION_H old; a video nobody has seen yet never is.

The same on both backends: with Redis, the video the bot fetched into its OUTPUT_DIR (its bytes in
Redis expire on their own, QUEUE_VIDEO_TTL_H).
"""

from __future__ import annotations

from pathlib import Path

from generation.queue.interface import JobFailed, JobFinished, JobQueue
from generation.queue.reasons import LOST_VIDEO
from generation.queue.retention import SWEEP_INTERVAL_S
from tests.fakes.clock import FakeClock
from tests.queue.conftest import MakeQueue, first, spec

WEEK_S = 168 * 3600


async def finished_video(make_queue: MakeQueue, *, acknowledged: bool) -> Path:
    """Run one job to the end on a fresh queue, close it, and return where its video is."""
    queue = await make_queue()
    done = await first(await queue.submit(spec("ann")), JobFinished)
    if acknowledged:
        await queue.acknowledge(done.job_id)
    await queue.close()
    assert done.result.video.path.exists()
    return done.result.video.path


async def reopen(make_queue: MakeQueue, clock: FakeClock, *, later_s: float, retention_h: float = 168.0) -> JobQueue:
    """Start a queue on the same database `later_s` seconds later."""
    clock.advance(later_s)
    return await make_queue(video_retention_h=retention_h)


async def test_a_delivered_video_older_than_the_retention_is_deleted_at_start(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    video = await finished_video(make_queue, acknowledged=True)

    await reopen(make_queue, clock, later_s=WEEK_S + 60)

    assert not video.exists()


async def test_a_deleted_video_is_forgotten_by_the_jobs_history(make_queue: MakeQueue, clock: FakeClock) -> None:
    await finished_video(make_queue, acknowledged=True)

    queue = await reopen(make_queue, clock, later_s=WEEK_S + 60)
    [job] = await queue.history()

    assert job.video_path is None


async def test_a_delivered_video_younger_than_the_retention_is_kept(make_queue: MakeQueue, clock: FakeClock) -> None:
    video = await finished_video(make_queue, acknowledged=True)

    await reopen(make_queue, clock, later_s=WEEK_S - 60)

    assert video.exists()


async def test_a_video_never_shown_to_its_user_is_kept_however_old(make_queue: MakeQueue, clock: FakeClock) -> None:
    video = await finished_video(make_queue, acknowledged=False)

    await reopen(make_queue, clock, later_s=10 * WEEK_S)

    assert video.exists()


async def test_a_retention_of_zero_keeps_videos_forever(make_queue: MakeQueue, clock: FakeClock) -> None:
    video = await finished_video(make_queue, acknowledged=True)

    await reopen(make_queue, clock, later_s=10 * WEEK_S, retention_h=0)

    assert video.exists()


async def test_a_video_already_deleted_by_hand_is_forgotten_by_the_sweep(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    video = await finished_video(make_queue, acknowledged=True)
    video.unlink()

    queue = await reopen(make_queue, clock, later_s=WEEK_S + 60)
    [job] = await queue.history()

    assert job.video_path is None


async def test_a_video_that_expires_while_the_queue_runs_goes_at_the_next_hourly_sweep(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    video = await finished_video(make_queue, acknowledged=True)
    await reopen(make_queue, clock, later_s=WEEK_S - SWEEP_INTERVAL_S / 2)
    await clock.wait_for_sleepers(1)  # the sweeper, waiting for its next round
    assert video.exists()

    clock.advance(SWEEP_INTERVAL_S)
    await clock.wait_for_sleepers(1)  # swept, and waiting for the round after

    assert not video.exists()


async def test_a_swept_video_is_lost_to_a_later_watch_not_fetched_again(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    video = await finished_video(make_queue, acknowledged=True)
    queue = await reopen(make_queue, clock, later_s=WEEK_S + 60)
    [job] = await queue.history()

    events = [event async for event in queue.watch(job.job_id)]

    assert isinstance(events[-1], JobFailed)
    assert events[-1].reason == LOST_VIDEO
    assert not video.exists()
