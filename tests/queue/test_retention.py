"""Delivered videos are deleted once VIDEO_RETENTION_H old; a video nobody has seen yet never is."""

from __future__ import annotations

import time
from pathlib import Path

from generation.config import EngineSettings
from generation.queue.interface import JobFinished
from generation.queue.local import LocalJobQueue
from generation.queue.settings import QueueSettings
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FakeGenerator
from tests.queue.conftest import MakeQueue, first, spec, stub_encoder

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


async def reopen(
    queue_settings: QueueSettings, engine_settings: EngineSettings, *, later_s: float, retention_h: float = 168.0
) -> LocalJobQueue:
    """Start a queue on the same database as if `later_s` seconds had passed."""
    queue = LocalJobQueue(
        queue_settings.model_copy(update={"video_retention_h": retention_h}),
        engine_settings,
        FakeGenerator(),
        encoder=stub_encoder,
        clock=FakeClock(time.time() + later_s),
    )
    await queue.start()
    return queue


async def test_a_delivered_video_older_than_the_retention_is_deleted_at_start(
    make_queue: MakeQueue, queue_settings: QueueSettings, engine_settings: EngineSettings
) -> None:
    video = await finished_video(make_queue, acknowledged=True)

    queue = await reopen(queue_settings, engine_settings, later_s=WEEK_S + 60)
    await queue.close()

    assert not video.exists()


async def test_a_deleted_video_is_forgotten_by_the_jobs_history(
    make_queue: MakeQueue, queue_settings: QueueSettings, engine_settings: EngineSettings
) -> None:
    await finished_video(make_queue, acknowledged=True)

    queue = await reopen(queue_settings, engine_settings, later_s=WEEK_S + 60)
    [job] = await queue.history()
    await queue.close()

    assert job.video_path is None


async def test_a_delivered_video_younger_than_the_retention_is_kept(
    make_queue: MakeQueue, queue_settings: QueueSettings, engine_settings: EngineSettings
) -> None:
    video = await finished_video(make_queue, acknowledged=True)

    queue = await reopen(queue_settings, engine_settings, later_s=WEEK_S - 60)
    await queue.close()

    assert video.exists()


async def test_a_video_never_shown_to_its_user_is_kept_however_old(
    make_queue: MakeQueue, queue_settings: QueueSettings, engine_settings: EngineSettings
) -> None:
    video = await finished_video(make_queue, acknowledged=False)

    queue = await reopen(queue_settings, engine_settings, later_s=10 * WEEK_S)
    await queue.close()

    assert video.exists()


async def test_a_retention_of_zero_keeps_videos_forever(
    make_queue: MakeQueue, queue_settings: QueueSettings, engine_settings: EngineSettings
) -> None:
    video = await finished_video(make_queue, acknowledged=True)

    queue = await reopen(queue_settings, engine_settings, later_s=10 * WEEK_S, retention_h=0)
    await queue.close()

    assert video.exists()


async def test_a_video_already_deleted_by_hand_is_forgotten_by_the_sweep(
    make_queue: MakeQueue, queue_settings: QueueSettings, engine_settings: EngineSettings
) -> None:
    video = await finished_video(make_queue, acknowledged=True)
    video.unlink()

    queue = await reopen(queue_settings, engine_settings, later_s=WEEK_S + 60)
    [job] = await queue.history()
    await queue.close()

    assert job.video_path is None
