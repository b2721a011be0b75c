"""Extend through the queue, on the tiny LTX image-to-video pipeline: a delivered video, kept with a new job,
comes back as one MP4 of its own frames followed by the continuation's, the frame they share once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from generation.config import EngineSettings
from generation.extend import store_source_video
from generation.queue.gpu import Encoder, mp4_encoder
from generation.queue.interface import JobFinished
from generation.results import GeneratedClip, VideoFile
from tests.fixtures.pictures import solid_png
from tests.fixtures.tiny_ltx import TINY_LTX_SIZE
from tests.fixtures.videos import decoded, mean_error, nearest
from tests.queue.conftest import MakeQueue, first, spec

if TYPE_CHECKING:
    from generation.generator import DiffusersGenerator

pytest.importorskip("torch")

FRAMES = 9


class KeepingEncoder:
    """The default MP4 encoder, keeping each clip's frames as the pipeline made them (by prompt)."""

    def __init__(self, encoder: Encoder) -> None:
        self._encoder = encoder
        self.frames: dict[str, Any] = {}

    def __call__(self, clip: GeneratedClip, path: Path) -> VideoFile:
        self.frames[clip.request.prompt] = clip.frames
        return self._encoder(clip, path)


async def test_an_extended_video_is_delivered_as_the_original_then_the_continuation_without_the_shared_frame(
    make_queue: MakeQueue, tiny_i2v_generator: DiffusersGenerator, engine_settings: EngineSettings
) -> None:
    from generation.conditioning import ImageLimits, prepare_image, store_image

    encoder = KeepingEncoder(mp4_encoder(engine_settings))
    queue = await make_queue(tiny_i2v_generator, encoder=encoder)
    shape: dict[str, Any] = {"width": TINY_LTX_SIZE, "height": TINY_LTX_SIZE, "num_frames": FRAMES, "steps": 2}
    png = prepare_image(solid_png((255, 128, 0)), TINY_LTX_SIZE, TINY_LTX_SIZE, ImageLimits(2**20, 2**20))
    picture = store_image(png, engine_settings.output_dir)
    sunset = spec("ann", "the sun sets", image=str(picture), seed=1, **shape)
    original = await first(await queue.submit(sunset), JobFinished)
    kept = store_source_video(original.result.video.path, engine_settings.output_dir)

    handle = await queue.submit(spec("bob", "night falls", extend=str(kept), seed=2, **shape))
    extended = await first(handle, JobFinished)

    before, joined = decoded(original.result.video.path), decoded(extended.result.video.path)
    continuation = encoder.frames["night falls"]
    assert extended.result.video.num_frames == len(joined) == 2 * FRAMES - 1
    assert nearest(joined[:FRAMES], before) == list(range(FRAMES))
    assert mean_error(joined[:FRAMES], before) < 4  # re-encoded, as near as H.264 at CRF 18 keeps them
    # After the original's last frame comes the continuation's second: its first (that same frame) is dropped.
    assert nearest(joined[FRAMES:], continuation) == list(range(1, FRAMES))
