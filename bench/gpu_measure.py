"""Measuring one benchmark configuration through the engine's own `prepare_pipeline` and `DiffusersGenerator`."""

from __future__ import annotations

import dataclasses
import gc
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from bench.gpu_configs import PROMPTS, BenchConfig, BenchOptions
from bench.gpu_report import ConfigResult, Status
from generation.config import EngineSettings, OffloadMode
from generation.errors import GenerationError, OutOfMemoryError
from generation.generator import DiffusersGenerator
from generation.pipeline import prepare_pipeline
from generation.request import FRAMES, VideoRequest
from generation.results import Timings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Calls:
    """Raw measurements of one configuration."""

    warmup_s: float
    timed: tuple[tuple[float, Timings], ...]
    weights_bytes: int | None
    peak_bytes: tuple[int, int] | None
    new_shape: tuple[int, float] | None


def measure(
    pipe: Any,
    config: BenchConfig,
    options: BenchOptions,
    device: torch.device,
    dtype: torch.dtype,
    flops: Callable[[int], int],
) -> ConfigResult:
    """Apply `config` through `prepare_pipeline`, then warm up and time it through `DiffusersGenerator`.

    `flops(videos)` gives the UNet FLOPs of one step for a batch of `videos`. Never raises for what one
    configuration can run into (out of memory, a compile error): the result says so, and the next
    configuration starts from a reset pipeline.
    """
    result = ConfigResult(
        config.name,
        config.description,
        str(config.offload),
        config.batch_size,
        config.vae_slicing,
        config.compile_unet,
        Status.SKIPPED,
    )
    if reason := _skip_reason(config, device):
        return dataclasses.replace(result, reason=reason)
    reset_placement(pipe)
    _free_memory(device)
    settings = _settings(config, options, device, dtype)
    try:
        loaded = prepare_pipeline(pipe, settings, device, dtype)
        calls = _run_calls(DiffusersGenerator(settings, pipeline=loaded), config, options, device)
    except OutOfMemoryError as exc:
        return dataclasses.replace(result, status=Status.OUT_OF_MEMORY, reason=str(exc))
    except torch.cuda.OutOfMemoryError as exc:
        # Raised by placing the weights, before the generator could translate it.
        return dataclasses.replace(result, status=Status.OUT_OF_MEMORY, reason=f"placing the pipeline: {exc}")
    except (GenerationError, RuntimeError, ValueError) as exc:
        # One configuration failing (a compile error, placement on a small GPU) must not lose the others.
        log.exception("configuration %s failed", config.name)
        return dataclasses.replace(result, status=Status.FAILED, reason=f"{type(exc).__name__}: {exc}")
    finally:
        _free_memory(device)
    batch_s = statistics.median(seconds for seconds, _ in calls.timed)
    per_video_s = batch_s / config.batch_size
    return dataclasses.replace(
        result,
        status=Status.OK,
        prepare_s=loaded.load_s,
        warmup_s=calls.warmup_s,
        runs_s=tuple(seconds for seconds, _ in calls.timed),
        batch_s=batch_s,
        per_video_s=per_video_s,
        videos_per_hour=3600.0 / per_video_s,
        denoise_s=statistics.median(timings.denoise_s for _, timings in calls.timed),
        decode_s=statistics.median(timings.decode_s for _, timings in calls.timed),
        compile_s=calls.warmup_s - batch_s if config.compile_unet else None,
        new_shape_frames=calls.new_shape[0] if calls.new_shape else None,
        new_shape_first_call_s=calls.new_shape[1] if calls.new_shape else None,
        weights_bytes=calls.weights_bytes,
        peak_allocated_bytes=calls.peak_bytes[0] if calls.peak_bytes else None,
        peak_reserved_bytes=calls.peak_bytes[1] if calls.peak_bytes else None,
        unet_flops_per_step=flops(config.batch_size),
    )


def _run_calls(
    generator: DiffusersGenerator, config: BenchConfig, options: BenchOptions, device: torch.device
) -> _Calls:
    """One warm-up call, `options.runs` timed calls, and for compiled configurations one call at a new shape."""
    cuda = device.type == "cuda"
    weights = torch.cuda.memory_allocated(device) if cuda else None
    warmup_s, _ = _timed_call(generator, config, options, run=0)
    if cuda:
        # Peaks of the steady state: the warm-up's one-off allocations (autotuning, compiling) are left out.
        torch.cuda.reset_peak_memory_stats(device)
    timed = tuple(_timed_call(generator, config, options, run=run) for run in range(1, options.runs + 1))
    peaks = (torch.cuda.max_memory_allocated(device), torch.cuda.max_memory_reserved(device)) if cuda else None
    new_shape = None
    if config.compile_unet:
        frames = _other_frame_count(options.num_frames)
        seconds, _ = _timed_call(generator, config, options, run=options.runs + 1, num_frames=frames)
        new_shape = (frames, seconds)
    return _Calls(warmup_s, timed, weights, peaks, new_shape)


def _skip_reason(config: BenchConfig, device: torch.device) -> str | None:
    if device.type == "cuda":
        return None
    if config.offload is not OffloadMode.NONE:
        return "CPU offload needs a CUDA device"
    if config.compile_unet:
        return "compile is timed on CUDA only: inductor's CPU build is slow and says nothing about the GPU"
    return None


def reset_placement(pipe: Any) -> None:
    """Undo the previous configuration's placement so that `prepare_pipeline` starts from a plain pipeline.

    Model CPU offload leaves accelerate hooks on every model, and the pipeline re-arms them after each
    call (`maybe_free_model_hooks`); `remove_all_hooks` takes them off and empties the hook list, so the
    next `pipe.to(device)` keeps the models resident for good. `prepare_pipeline` only ever turns VAE
    slicing on, so it is turned off here. Compiling is not undone: compiled configurations run last.
    """
    pipe.remove_all_hooks()
    pipe.vae.disable_slicing()


def _settings(config: BenchConfig, options: BenchOptions, device: torch.device, dtype: torch.dtype) -> EngineSettings:
    # Only what `prepare_pipeline` and the generator read matters; the model is already built.
    return EngineSettings(
        model_id=str(options.model_dir),
        device=str(device),
        torch_dtype=str(dtype).removeprefix("torch."),
        offload=config.offload,
        vae_slicing=config.vae_slicing,
        compile_unet=config.compile_unet,
        default_steps=options.steps,
        max_batch_size=config.batch_size,
    )


def _timed_call(
    generator: DiffusersGenerator,
    config: BenchConfig,
    options: BenchOptions,
    *,
    run: int,
    num_frames: int | None = None,
) -> tuple[float, Timings]:
    """Wall seconds of one `generate` call on `config.batch_size` same-shape requests, and the engine's timings."""
    requests = [
        VideoRequest(
            PROMPTS[index % len(PROMPTS)],
            seed=run * config.batch_size + index,
            steps=options.steps,
            num_frames=options.num_frames if num_frames is None else num_frames,
            width=options.size,
            height=options.size,
        )
        for index in range(config.batch_size)
    ]
    started = time.perf_counter()
    clips = generator.generate(requests)
    return time.perf_counter() - started, clips[0].timings


def _other_frame_count(num_frames: int) -> int:
    """A frame count that differs from `num_frames` by 8 and stays within what requests allow."""
    return num_frames + 8 if num_frames + 8 <= FRAMES.maximum else num_frames - 8


def _free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
