"""Image-to-video in the engine: the picture is checked, cropped, stored, and reaches the real pipeline;
the frame rule and the profile are enforced before the pipeline is called."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from generation.conditioning import ImageLimits, prepare_image, store_image
from generation.errors import GenerationError, InvalidRequestError, ModelLoadError
from generation.generator import DiffusersGenerator
from generation.pipeline import load_pipeline
from generation.request import VideoRequest
from tests.fixtures.pictures import huge_png_header, solid_png
from tests.fixtures.tiny_ltx import TINY_LTX_SIZE, tiny_settings

LIMITS = ImageLimits(max_bytes=10 * 2**20, max_pixels=4096 * 4096)
SIDE = TINY_LTX_SIZE


def stored(png: bytes, folder: Path) -> str:
    return str(store_image(prepare_image(png, SIDE, SIDE, LIMITS), folder))


def test_the_attached_picture_reaches_the_pipeline_cropped_to_the_video(
    tiny_i2v_generator: DiffusersGenerator, tmp_path: Path
) -> None:
    image = stored(solid_png((0, 0, 255)), tmp_path)
    request = VideoRequest(prompt="a blue sea", steps=2, num_frames=9, width=SIDE, height=SIDE, seed=1, image=image)
    pipeline: Any = tiny_i2v_generator.pipeline
    before = len(pipeline.pipe.images_seen)

    [clip] = tiny_i2v_generator.generate([request])

    seen = pipeline.pipe.images_seen[before:]
    assert len(seen) == 1
    assert seen[0].size == (SIDE, SIDE)
    assert np.asarray(seen[0])[0, 0].tolist() == [0, 0, 255]
    assert clip.frames.shape == (9, SIDE, SIDE, 3)


def test_an_image_to_video_pipeline_refuses_a_request_without_a_picture(
    tiny_i2v_generator: DiffusersGenerator,
) -> None:
    with pytest.raises(GenerationError, match="animates a picture"):
        tiny_i2v_generator.generate([VideoRequest(prompt="a cat", steps=1, num_frames=9, width=SIDE, height=SIDE)])


def test_a_frame_count_off_the_rule_is_an_error_before_the_pipeline_runs(
    tiny_ltx_generator: DiffusersGenerator,
) -> None:
    with pytest.raises(GenerationError, match=r"8k\+1 frames"):
        tiny_ltx_generator.generate([VideoRequest(prompt="a cat", steps=1, num_frames=16, width=SIDE, height=SIDE)])


def test_a_size_off_the_profiles_multiple_is_an_error_before_the_pipeline_runs(
    tiny_ltx_generator: DiffusersGenerator,
) -> None:
    request = VideoRequest(prompt="a cat", steps=1, num_frames=9, width=72, height=SIDE)

    with pytest.raises(GenerationError, match=r"width must be a multiple of 32 for LTX-Video \(text-to-video\)"):
        tiny_ltx_generator.generate([request])


def test_a_text_to_video_pipeline_refuses_a_picture(tiny_ltx_generator: DiffusersGenerator, tmp_path: Path) -> None:
    image = stored(solid_png((0, 255, 0)), tmp_path)
    request = VideoRequest(prompt="a cat", steps=1, num_frames=9, width=SIDE, height=SIDE, image=image)

    with pytest.raises(GenerationError, match="from text only"):
        tiny_ltx_generator.generate([request])


def test_naming_the_image_to_video_profile_loads_text_to_video_weights_as_image_to_video(
    tiny_ltx_dir: Path, tmp_path: Path
) -> None:
    loaded = load_pipeline(tiny_settings(tiny_ltx_dir, tmp_path, model_profile="ltx-video-i2v"))

    assert type(loaded.pipe).__name__ == "LTXImageToVideoPipeline"
    assert loaded.takes_image


def test_a_model_that_is_not_what_the_named_profile_drives_is_refused_with_the_fitting_one(
    tiny_ltx_dir: Path, tmp_path: Path
) -> None:
    settings = tiny_settings(tiny_ltx_dir, tmp_path, model_profile="wan2.1-t2v-1.3b")

    with pytest.raises(
        ModelLoadError, match=r"is a LTXPipeline, but model profile wan2\.1-t2v-1\.3b is for WanPipeline"
    ):
        load_pipeline(settings)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"just some text, renamed to look like a picture\n", "a file that is not a readable image"),
        (huge_png_header(), "too many pixels"),
        (b"\0" * (30 * 2**20), "30.0 MiB"),
        (solid_png((1, 2, 3))[:60], "a damaged image"),
    ],
    ids=["text-file", "20000-square", "30-MiB", "truncated"],
)
def test_a_bad_picture_is_refused_naming_the_problem_and_the_limits(data: bytes, problem: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        prepare_image(data, SIDE, SIDE, LIMITS)

    assert caught.value.field == "image"
    assert problem in str(caught.value.value)
    assert caught.value.allowed == "a PNG, JPEG or WebP of at most 10 MiB and 16,777,216 pixels"


def test_a_picture_of_more_pixels_than_allowed_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        prepare_image(solid_png((1, 2, 3), (300, 300)), SIDE, SIDE, ImageLimits(max_bytes=2**20, max_pixels=200 * 200))

    assert str(caught.value) == (
        "image must be a PNG, JPEG or WebP of at most 1 MiB and 40,000 pixels (got '300×300 pixels')"
    )
