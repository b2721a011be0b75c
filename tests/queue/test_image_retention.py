"""The picture an image-to-video job animated (or the video an extension continued) is kept as long as its
video, and deleted with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from generation.queue.interface import JobFinished
from generation.queue.local import LocalJobQueue
from tests.fakes.clock import FakeClock
from tests.queue.conftest import MakeQueue, first, spec

WEEK_S = 168 * 3600


async def finished_with_picture(
    make_queue: MakeQueue, tmp_path: Path, *, acknowledged: bool, field: str = "image"
) -> Path:
    """Run one image-to-video job (an extension, for `field="extend"`) to the end, close the queue, and
    return where its picture (or the video it extended) is."""
    picture = tmp_path / "videos" / "images" / ("sunset.png" if field == "image" else "sunset.mp4")
    picture.parent.mkdir(parents=True, exist_ok=True)  # where the bot stores them (engine_settings)
    picture.write_bytes(b"png")
    queue = await make_queue()
    done = await first(await queue.submit(spec("ann", **{field: str(picture)})), JobFinished)
    if acknowledged:
        await queue.acknowledge(done.job_id)
    await queue.close()
    return picture


async def reopened(make_queue: MakeQueue, clock: FakeClock, later_s: float) -> LocalJobQueue:
    clock.advance(later_s)
    return await make_queue(video_retention_h=168.0)


@pytest.mark.parametrize("field", ["image", "extend"])
async def test_the_picture_goes_with_the_delivered_video_and_the_history_forgets_it(
    make_queue: MakeQueue, clock: FakeClock, tmp_path: Path, field: str
) -> None:
    picture = await finished_with_picture(make_queue, tmp_path, acknowledged=True, field=field)

    queue = await reopened(make_queue, clock, WEEK_S + 60)

    assert not picture.exists()
    [job] = await queue.history()
    assert getattr(job.spec.request, field) is None


async def test_the_picture_of_a_video_not_yet_shown_is_kept(
    make_queue: MakeQueue, clock: FakeClock, tmp_path: Path
) -> None:
    picture = await finished_with_picture(make_queue, tmp_path, acknowledged=False)

    await reopened(make_queue, clock, 10 * WEEK_S)

    assert picture.exists()


async def test_the_picture_of_a_young_video_is_kept(make_queue: MakeQueue, clock: FakeClock, tmp_path: Path) -> None:
    picture = await finished_with_picture(make_queue, tmp_path, acknowledged=True)

    await reopened(make_queue, clock, WEEK_S - 60)

    assert picture.exists()


@pytest.mark.local_only
async def test_a_recorded_file_outside_the_output_folder_is_left_alone_while_the_video_goes(
    make_queue: MakeQueue, clock: FakeClock, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "not-ours.mp4"  # what a tampered database could name
    elsewhere.write_bytes(b"must survive")
    queue = await make_queue()
    done = await first(await queue.submit(spec("ann", extend=str(elsewhere))), JobFinished)
    await queue.acknowledge(done.job_id)
    await queue.close()

    await reopened(make_queue, clock, WEEK_S + 60)

    assert elsewhere.read_bytes() == b"must survive"
    assert not done.result.video.path.exists()
