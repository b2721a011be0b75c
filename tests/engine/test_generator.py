"""DiffusersGenerator on real (tiny) pipelines: frames, seeds, batches, progress, cancellation, failures."""

from __future__ import annotations

from pathlib import Path

import diffusers
import numpy as np
import pytest
import torch

from generation.config import EngineSettings
from generation.errors import GenerationCancelled, GenerationError, OutOfMemoryError
from generation.generator import DiffusersGenerator
from generation.protocol import CancelToken, ProgressCallback
from generation.request import MAX_SEED, VideoRequest

STEPS = 4
WAN_FRAMES = 9
"""Wan's VAE compresses time by 4, so its clips have 4k + 1 frames."""


def _request(
    prompt: str = "Spiderman is surfing",
    *,
    num_frames: int = 8,
    width: int = 64,
    height: int = 64,
    steps: int = STEPS,
    seed: int | None = 7,
) -> VideoRequest:
    return VideoRequest(prompt, num_frames=num_frames, width=width, height=height, steps=steps, seed=seed)


def _cancel_at(step: int, token: CancelToken) -> tuple[list[int], ProgressCallback]:
    seen: list[int] = []

    def on_progress(done: int, total: int) -> None:
        seen.append(done)
        if done == step:
            token.cancel()

    return seen, on_progress


def _files_of_frames_held(error: BaseException) -> set[Path]:
    """Source files of every frame kept alive by the tracebacks of `error` and the exceptions chained to it."""
    files: set[Path] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None:
            continue
        trace = current.__traceback__
        while trace is not None:
            files.add(Path(trace.tb_frame.f_code.co_filename))
            trace = trace.tb_next
        pending += [current.__cause__, current.__context__]
    return files


def test_a_clip_is_uint8_frames_of_the_requested_size(tiny_generator: DiffusersGenerator) -> None:
    [clip] = tiny_generator.generate([_request(num_frames=8, width=96, height=64)])

    assert clip.frames.shape == (8, 64, 96, 3)
    assert clip.frames.dtype == np.uint8
    assert clip.frames.std() > 0


def test_progress_is_reported_once_per_step(tiny_generator: DiffusersGenerator) -> None:
    calls: list[tuple[int, int]] = []

    tiny_generator.generate([_request(steps=5)], on_progress=lambda step, total: calls.append((step, total)))

    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_cancelling_stops_between_steps_and_leaves_the_generator_usable(
    tiny_generator: DiffusersGenerator,
) -> None:
    token = CancelToken()
    seen, on_progress = _cancel_at(2, token)

    with pytest.raises(GenerationCancelled):
        tiny_generator.generate([_request()], on_progress, token)

    assert seen == [1, 2]
    assert tiny_generator.generate([_request()])[0].frames.shape == (8, 64, 64, 3)


def test_a_request_cancelled_before_it_starts_runs_no_step(tiny_generator: DiffusersGenerator) -> None:
    token = CancelToken()
    token.cancel()
    calls: list[int] = []

    with pytest.raises(GenerationCancelled):
        tiny_generator.generate([_request()], lambda step, _: calls.append(step), token)

    assert calls == []


def test_the_same_seed_gives_identical_frames(tiny_generator: DiffusersGenerator) -> None:
    first = tiny_generator.generate([_request(seed=123)])[0]
    second = tiny_generator.generate([_request(seed=123)])[0]
    other = tiny_generator.generate([_request(seed=124)])[0]

    assert np.array_equal(first.frames, second.frames)
    assert not np.array_equal(first.frames, other.frames)


def test_without_a_seed_one_is_drawn_reported_and_reproduces_the_clip(
    tiny_generator: DiffusersGenerator,
) -> None:
    drawn = tiny_generator.generate([_request().with_seed(None)])[0]

    assert 0 <= drawn.seed <= MAX_SEED
    replay = tiny_generator.generate([_request().with_seed(drawn.seed)])[0]
    assert np.array_equal(drawn.frames, replay.frames)


def test_each_clip_of_a_batch_matches_its_single_run(tiny_engine_settings: EngineSettings) -> None:
    generator = DiffusersGenerator(tiny_engine_settings.model_copy(update={"max_batch_size": 2}))
    cat, dog = _request("a cat", seed=1), _request("a dog", seed=2)

    batch = generator.generate([cat, dog])
    singles = [generator.generate([cat])[0], generator.generate([dog])[0]]

    assert [clip.seed for clip in batch] == [1, 2]
    for batched, single in zip(batch, singles, strict=True):
        # Same noise per request (one generator each), but CPU kernels sum in a different order for a
        # batch of 2: float results differ around 1e-6, which flips a rare pixel by one grey level.
        difference = np.abs(batched.frames.astype(int) - single.frames.astype(int))
        assert difference.max() <= 1
        assert (difference > 0).mean() < 0.001


def test_a_batch_over_the_limit_is_refused(tiny_generator: DiffusersGenerator) -> None:
    assert tiny_generator.max_batch_size == 1

    with pytest.raises(ValueError, match="batch limit"):
        tiny_generator.generate([_request(), _request()])


def test_requests_of_different_shapes_cannot_share_a_batch(tiny_engine_settings: EngineSettings) -> None:
    generator = DiffusersGenerator(tiny_engine_settings.model_copy(update={"max_batch_size": 2}))

    with pytest.raises(ValueError, match="same shape"):
        generator.generate([_request(num_frames=8), _request(num_frames=16)])


def test_timings_split_denoising_from_decoding_and_load_is_zero_when_resident(
    tiny_generator: DiffusersGenerator,
) -> None:
    timings = tiny_generator.generate([_request()])[0].timings

    assert timings.load_s == 0
    assert timings.denoise_s > 0
    assert timings.decode_s > 0


def test_the_first_generate_loads_the_model_and_counts_the_time(tiny_engine_settings: EngineSettings) -> None:
    generator = DiffusersGenerator(tiny_engine_settings)

    timings = generator.generate([_request()])[0].timings

    assert timings.load_s > 0
    assert generator.load() == 0


def test_memory_in_use_is_unknown_on_cpu(tiny_generator: DiffusersGenerator) -> None:
    assert tiny_generator.memory_in_use() is None


def test_a_failure_inside_the_pipeline_is_a_generation_error_and_the_generator_stays_usable(
    tiny_generator: DiffusersGenerator,
) -> None:
    def explode(step: int, total: int) -> None:
        raise RuntimeError("boom")

    with pytest.raises(GenerationError, match="RuntimeError: boom") as caught:
        tiny_generator.generate([_request()], on_progress=explode)

    assert isinstance(caught.value.__cause__, RuntimeError)
    assert tiny_generator.generate([_request()])[0].frames.shape == (8, 64, 64, 3)


def test_a_failure_inside_the_pipeline_keeps_none_of_its_frames_alive(tiny_generator: DiffusersGenerator) -> None:
    # The worker retries a failed batch in halves: frames held by the error would pin the first call's tensors.
    def explode(step: int, total: int) -> None:
        raise RuntimeError("boom")

    with pytest.raises(GenerationError) as caught:
        tiny_generator.generate([_request()], on_progress=explode)

    diffusers_dir = Path(diffusers.__file__).parent
    assert not [file for file in _files_of_frames_held(caught.value) if file.is_relative_to(diffusers_dir)]


def test_running_out_of_gpu_memory_is_an_out_of_memory_error(tiny_generator: DiffusersGenerator) -> None:
    def run_out(step: int, total: int) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(OutOfMemoryError, match="fewer frames or a smaller size") as caught:
        tiny_generator.generate([_request()], on_progress=run_out)

    # The original stays attached for the logs, without the traceback that would pin the call's tensors.
    assert isinstance(caught.value.__cause__, torch.cuda.OutOfMemoryError)
    assert caught.value.__cause__.__traceback__ is None


def test_a_step_end_callback_pipeline_reports_every_step(tiny_wan_generator: DiffusersGenerator) -> None:
    calls: list[tuple[int, int]] = []

    [clip] = tiny_wan_generator.generate(
        [_request(num_frames=WAN_FRAMES, steps=3)],
        on_progress=lambda step, total: calls.append((step, total)),
    )

    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert clip.frames.shape == (WAN_FRAMES, 64, 64, 3)
    assert clip.frames.dtype == np.uint8


def test_a_step_end_callback_pipeline_stops_at_the_cancelled_step_without_decoding(
    tiny_wan_generator: DiffusersGenerator,
) -> None:
    token = CancelToken()
    seen, on_progress = _cancel_at(1, token)
    tiny_wan_generator.load()
    assert tiny_wan_generator.pipeline is not None
    decodes: list[object] = []
    hook = tiny_wan_generator.pipeline.pipe.vae.decoder.register_forward_hook(lambda *_: decodes.append(None))

    try:
        with pytest.raises(GenerationCancelled):
            tiny_wan_generator.generate([_request(num_frames=WAN_FRAMES, steps=3)], on_progress, token)
    finally:
        hook.remove()

    assert seen == [1]
    assert decodes == []
    assert tiny_wan_generator.generate([_request(num_frames=WAN_FRAMES, steps=2)])[0].frames.shape[0] == WAN_FRAMES


def test_a_step_end_callback_pipeline_is_reproducible_from_the_seed(
    tiny_wan_generator: DiffusersGenerator,
) -> None:
    first = tiny_wan_generator.generate([_request(num_frames=WAN_FRAMES, steps=2, seed=5)])[0]
    second = tiny_wan_generator.generate([_request(num_frames=WAN_FRAMES, steps=2, seed=5)])[0]

    assert np.array_equal(first.frames, second.frames)
