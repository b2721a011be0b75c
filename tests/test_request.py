"""VideoRequest validates every field at construction and names what is allowed."""

from __future__ import annotations

import dataclasses

import pytest

from generation.errors import InvalidRequestError
from generation.request import VideoRequest, request_from_fields


def test_defaults_follow_the_seed_recipe() -> None:
    request = VideoRequest("Spiderman is surfing")
    assert (request.steps, request.width, request.height, request.seed) == (25, 256, 256, None)


def test_whitespace_in_prompts_is_collapsed() -> None:
    assert VideoRequest("  Spiderman \n is   surfing ").prompt == "Spiderman is surfing"


@pytest.mark.parametrize(
    ("field", "kwargs", "message"),
    [
        ("prompt", {"prompt": "   "}, "prompt must be some text describing the video"),
        ("prompt", {"prompt": "x" * 1001}, "prompt must be at most 1000 characters"),
        ("steps", {"steps": 0}, "steps must be between 1 and 150 (got 0)"),
        ("steps", {"steps": 151}, "steps must be between 1 and 150 (got 151)"),
        ("num_frames", {"num_frames": 258}, "num_frames must be between 1 and 257 (got 258)"),
        ("guidance_scale", {"guidance_scale": 31.0}, "guidance_scale must be between 0 and 30 (got 31.0)"),
        ("fps", {"fps": 0}, "fps must be between 1 and 60 (got 0)"),
        ("width", {"width": 260}, "width must be a multiple of 8 (got 260)"),
        ("height", {"height": 2048}, "height must be between 64 and 1280 (got 2048)"),
        ("seed", {"seed": -1}, "seed must be between 0 and 4294967295 (got -1)"),
    ],
)
def test_out_of_range_fields_are_refused_with_the_allowed_range(
    field: str, kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"prompt": "a cat", **kwargs}
    with pytest.raises(InvalidRequestError) as caught:
        VideoRequest(**arguments)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value).startswith(message)


def test_with_seed_keeps_everything_else() -> None:
    request = VideoRequest("a cat", steps=10, seed=1)
    assert request.with_seed(2) == VideoRequest("a cat", steps=10, seed=2)


def test_requests_of_equal_shape_can_batch() -> None:
    assert VideoRequest("a cat", seed=1).shape == VideoRequest("a dog", seed=2).shape
    assert VideoRequest("a cat").shape != VideoRequest("a cat", num_frames=8).shape


def test_an_extension_batches_with_pictures_not_with_text_alone() -> None:
    extension = VideoRequest("a cat", extend="outputs/images/a.mp4")
    assert extension.shape == VideoRequest("a dog", image="outputs/images/b.png").shape
    assert extension.shape != VideoRequest("a dog").shape


def test_an_extension_takes_no_picture_of_its_own() -> None:
    with pytest.raises(InvalidRequestError, match="image must be none when extending a video: its last frame"):
        VideoRequest("a cat", image="outputs/images/a.png", extend="outputs/images/a.mp4")


@pytest.mark.parametrize(
    ("num_frames", "steps", "width", "height", "cost"),
    [
        (16, 25, 256, 256, 400.0),
        (16, 25, 64, 64, 25.0),
        (16, 25, 384, 384, 900.0),
        (8, 50, 512, 256, 800.0),
    ],
)
def test_cost_is_frames_times_steps_times_pixels_over_256_squared_without_rounding(
    num_frames: int, steps: int, width: int, height: int, cost: float
) -> None:
    request = VideoRequest("a cat", num_frames=num_frames, steps=steps, width=width, height=height)
    assert request.cost == pytest.approx(cost)


def test_a_stored_request_comes_back_equal() -> None:
    request = VideoRequest("a cat", seed=7, guidance_scale=7.5, image="outputs/images/a.png", model="fast-2.1")
    extension = VideoRequest("a cat", extend="outputs/images/a.mp4", model="animate")
    assert request_from_fields(dataclasses.asdict(request)) == request
    assert request_from_fields(dataclasses.asdict(extension)) == extension


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"prompt": "a cat", "steps": "25"}, "steps"),
        ({"prompt": "a cat", "seed": True}, "seed"),
        ({"prompt": 7}, "prompt"),
        ({"prompt": "a cat", "image": ["/etc/passwd"]}, "image"),
        ({"prompt": "a cat", "extend": ["/etc/passwd"]}, "extend"),
        ({"prompt": "a cat", "extend": " "}, "extend"),
        ({"prompt": "a cat", "evil": 1}, "evil"),
        ({"prompt": "a cat", "model": "../../etc"}, "model"),
        ({"prompt": "a cat", "model": "fast model"}, "model"),
        ({"prompt": "a cat", "model": "x" * 33}, "model"),
        ({"prompt": "a cat", "steps": 10_000}, "steps"),
        (["a cat"], "request"),
    ],
)
def test_a_stored_request_is_checked_as_a_new_one_naming_the_field(fields: object, field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        request_from_fields(fields)
    assert caught.value.field == field
