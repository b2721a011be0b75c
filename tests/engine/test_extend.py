"""Extending a video in the engine: the last frame, fitted like a picture, is what the model animates; the
result is the original then the continuation, the shared frame once; what cannot be extended is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from generation.errors import GenerationError, InvalidRequestError
from generation.extend import MAX_SOURCE_FRAMES, join, store_source_video
from generation.generator import DiffusersGenerator
from generation.request import VideoRequest
from tests.fixtures.tiny_ltx import TINY_LTX_SIZE
from tests.fixtures.videos import colour_video, decoded, nearest, thirds_video

SIDE = TINY_LTX_SIZE
RED, WHITE, GREEN, BLUE = (255, 0, 0), (255, 255, 255), (0, 255, 0), (0, 0, 255)
GREY_STEPS = [(level, level, level) for level in (0, 40, 80, 120, 160)]


def solid_frames(colours: list[tuple[int, int, int]], side: int = SIDE) -> Any:
    return np.stack([np.full((side, side, 3), colour, dtype=np.uint8) for colour in colours])


def test_the_model_animates_the_last_frame_of_the_video_cropped_to_the_size_as_a_picture_is(
    tiny_i2v_generator: DiffusersGenerator, tmp_path: Path
) -> None:
    video = colour_video(tmp_path / "before.mp4", [BLUE, BLUE], size=(96, 64))
    thirds = thirds_video(tmp_path / "thirds.mp4")
    pipeline: Any = tiny_i2v_generator.pipeline
    seen_before = len(pipeline.pipe.images_seen)

    for source in (video, thirds):
        request = VideoRequest("the sea", steps=1, num_frames=9, width=SIDE, height=SIDE, seed=1, extend=str(source))
        tiny_i2v_generator.generate([request])

    blue, banded = (np.asarray(image) for image in pipeline.pipe.images_seen[seen_before:])
    assert blue.shape == banded.shape == (SIDE, SIDE, 3)
    assert np.abs(blue.astype(int) - BLUE).max() < 12
    assert nearest_colour(banded[32, 20]) == WHITE  # cropped: red ends at column 16 (squeezed: at 21)
    assert nearest_colour(banded[32, 10]) == RED
    assert nearest_colour(banded[32, 54]) == GREEN


def nearest_colour(pixel: Any) -> tuple[int, int, int]:
    return min((RED, WHITE, GREEN, BLUE), key=lambda colour: int(np.abs(pixel.astype(int) - colour).sum()))


def test_the_joined_video_is_the_original_then_the_continuation_without_its_first_frame(tmp_path: Path) -> None:
    original = colour_video(tmp_path / "before.mp4", GREY_STEPS)
    new = [GREY_STEPS[-1], (200, 0, 0), (0, 200, 0), (0, 0, 200)]  # begins where the original ends

    joined = join(original, solid_frames(new), 8, tmp_path / "joined.mp4")

    frames = decoded(joined.path)
    assert (joined.num_frames, joined.fps, len(frames)) == (8, 8, 8)
    assert nearest(frames, solid_frames([*GREY_STEPS, *new[1:]])) == list(range(8))


def test_an_original_of_another_size_is_cropped_to_the_continuations_as_its_last_frame_was(tmp_path: Path) -> None:
    thirds = thirds_video(tmp_path / "thirds.mp4")

    joined = join(thirds, solid_frames([WHITE, BLUE]), 8, tmp_path / "joined.mp4")

    first = decoded(joined.path)[0]
    assert (joined.width, joined.height) == (SIDE, SIDE)
    assert [nearest_colour(first[32, column]) for column in (10, 20, 54)] == [RED, WHITE, GREEN]


def test_joining_at_another_frame_rate_is_refused_naming_the_videos(tmp_path: Path) -> None:
    original = colour_video(tmp_path / "before.mp4", GREY_STEPS, fps=8)

    with pytest.raises(InvalidRequestError) as caught:
        join(original, solid_frames([WHITE, BLUE]), 24, tmp_path / "joined.mp4")

    assert str(caught.value) == "fps must be 8, the frame rate of the video extended (got 24)"
    assert not (tmp_path / "joined.mp4").exists()


def test_an_extension_at_another_frame_rate_fails_before_the_pipeline_runs(
    tiny_i2v_generator: DiffusersGenerator, tmp_path: Path
) -> None:
    original = colour_video(tmp_path / "before.mp4", GREY_STEPS, fps=8)
    request = VideoRequest("the sea", steps=1, num_frames=9, width=SIDE, height=SIDE, fps=24, extend=str(original))
    pipeline: Any = tiny_i2v_generator.pipeline
    seen_before = len(pipeline.pipe.images_seen)

    with pytest.raises(GenerationError, match="fps must be 8, the frame rate of the video extended"):
        tiny_i2v_generator.generate([request])

    assert len(pipeline.pipe.images_seen) == seen_before


def test_a_text_to_video_model_refuses_to_extend(tiny_ltx_generator: DiffusersGenerator, tmp_path: Path) -> None:
    original = colour_video(tmp_path / "before.mp4", GREY_STEPS)
    request = VideoRequest("the sea", steps=1, num_frames=9, width=SIDE, height=SIDE, extend=str(original))

    with pytest.raises(GenerationError, match="from text only: it cannot extend a video"):
        tiny_ltx_generator.generate([request])


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"not a video at all", "a file that is not a readable video"), (None, "a readable file")],
    ids=["not-a-video", "missing"],
)
def test_a_file_that_is_no_video_to_extend_is_refused_naming_the_problem(
    tmp_path: Path, content: bytes | None, problem: str
) -> None:
    source = tmp_path / "clip.mp4"
    if content is not None:
        source.write_bytes(content)

    with pytest.raises(InvalidRequestError) as caught:
        store_source_video(source, tmp_path / "outputs")

    assert caught.value.field == "extend"
    assert problem in f"{caught.value.value} {caught.value.allowed}"
    assert not (tmp_path / "outputs").exists()


def test_a_video_of_too_many_frames_is_refused_from_its_header(tmp_path: Path) -> None:
    source = colour_video(tmp_path / "long.mp4", [WHITE] * (MAX_SOURCE_FRAMES + 1), size=(16, 16))

    with pytest.raises(InvalidRequestError, match=f"a video of {MAX_SOURCE_FRAMES + 1} frames"):
        store_source_video(source, tmp_path / "outputs")


def test_the_video_to_extend_is_kept_as_a_fresh_copy_in_the_job_files_folder(tmp_path: Path) -> None:
    source = colour_video(tmp_path / "before.mp4", GREY_STEPS)

    kept = store_source_video(source, tmp_path / "outputs")

    assert kept.parent == tmp_path / "outputs" / "images"
    assert kept.suffix == ".mp4"
    assert kept.read_bytes() == source.read_bytes()
    assert list(kept.parent.iterdir()) == [kept]
