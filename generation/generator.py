"""`DiffusersGenerator`: the `VideoGenerator` that runs a diffusers video pipeline in-process.

Works with any diffusers text-to-video or image-to-video pipeline loadable by id: the seed model's
`TextToVideoSDPipeline` reports steps through the legacy `callback`, newer ones (Wan, LTX-Video) through
`callback_on_step_end`; the style is read from the pipeline's signature at load time. Requests are
checked against the model profile (frame rule, image or none) before the pipeline sees them, so a shape
the model cannot take is a clear error rather than a failure deep inside the pipeline.
"""

from __future__ import annotations

import gc
import logging
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from generation.conditioning import open_stored_image
from generation.config import EngineSettings
from generation.errors import GenerationError, InvalidRequestError, OutOfMemoryError, one_line
from generation.extend import last_frame
from generation.pipeline import CallbackStyle, LoadedPipeline, load_pipeline
from generation.protocol import CancelToken, ProgressCallback
from generation.queue.reasons import OUT_OF_MEMORY_FOR
from generation.request import MAX_SEED, VideoRequest
from generation.results import GeneratedClip, Timings

log = logging.getLogger(__name__)


class DiffusersGenerator:
    """Runs batches of same-shape requests through one diffusers pipeline, loaded on first use.

    Blocking and not thread-safe: call `load` and `generate` from one dedicated thread (only
    `memory_in_use` may be called from elsewhere). Noise comes from one CPU `torch.Generator` per
    request, so a seed gives the same starting noise on any device and inside any batch.
    """

    def __init__(self, settings: EngineSettings, *, pipeline: LoadedPipeline | None = None) -> None:
        """Wrap `settings`; pass `pipeline` to use one already prepared (benchmarks) instead of loading."""
        self._settings = settings
        self._loaded = pipeline

    @property
    def max_batch_size(self) -> int:
        """How many same-shape requests one `generate` call accepts."""
        return self._settings.max_batch_size

    @property
    def pipeline(self) -> LoadedPipeline | None:
        """The loaded pipeline, or None before `load`."""
        return self._loaded

    def memory_in_use(self) -> int | None:
        """Bytes of CUDA memory allocated by torch now, or None when not running on CUDA. Thread-safe."""
        loaded = self._loaded
        if loaded is None or loaded.device.type != "cuda":
            return None
        return int(torch.cuda.memory_allocated(loaded.device))

    def load(self) -> float:
        """Load the pipeline unless it is resident; return the seconds it took (0 when resident). Blocking."""
        return self._ensure_loaded()[1]

    def unload(self) -> None:
        """Let go of the pipeline and free its memory now (a model swap); the next call loads it again."""
        loaded, self._loaded = self._loaded, None
        if loaded is None:
            return
        loaded.pipe.maybe_free_model_hooks()
        del loaded
        gc.collect()  # pipelines hold reference cycles (hooks, schedulers): free their tensors now
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        """Run one pipeline call for `requests` (same `shape`, at most `max_batch_size`); one clip each.

        Blocking. Loads the model first if needed (its time is in `timings.load_s`). Every clip of the
        batch shares the batch's timings. Raises `GenerationCancelled` when `cancel` fires between steps,
        `OutOfMemoryError` when CUDA runs out of memory, `GenerationError` for other failures; the
        generator stays usable after each.
        """
        _check_batch(requests, self.max_batch_size)
        loaded, load_s = self._ensure_loaded()
        cancel = cancel or CancelToken()
        cancel.raise_if_cancelled()
        _check_against_model(loaded, requests[0])
        pictures = _pictures(requests) if loaded.takes_image else []
        seeds = [request.seed if request.seed is not None else secrets.randbelow(MAX_SEED + 1) for request in requests]
        hook = _StepHook(loaded, requests[0].steps, on_progress, cancel)
        started = time.perf_counter()
        output = _call_pipeline(loaded, requests, seeds, pictures, hook)
        finished = time.perf_counter()
        # The last step's callback marks where denoising ends and VAE decoding begins, for every pipeline
        # with a callback: decoding inside the pipeline's own call keeps each pipeline's latent
        # post-processing (Wan and LTX denormalise and unpack latents differently) out of our code.
        denoised = hook.last_step_at or finished
        timings = Timings(load_s=load_s, denoise_s=denoised - started, decode_s=finished - denoised)
        return [
            GeneratedClip(request=request, seed=seed, frames=to_uint8_video(output.frames[index]), timings=timings)
            for index, (request, seed) in enumerate(zip(requests, seeds, strict=True))
        ]

    def _ensure_loaded(self) -> tuple[LoadedPipeline, float]:
        if self._loaded is not None:
            return self._loaded, 0.0
        self._loaded = load_pipeline(self._settings)
        return self._loaded, self._loaded.load_s


def _call_pipeline(
    loaded: LoadedPipeline,
    requests: Sequence[VideoRequest],
    seeds: Sequence[int],
    pictures: Sequence[Image.Image],
    hook: _StepHook,
) -> Any:
    """Run the pipeline once; translate what it raises into our errors, leaving it usable."""
    try:
        return loaded.pipe(**_call_arguments(loaded, requests, seeds, pictures), **hook.arguments())
    except GenerationError:
        # Cancelled from a step callback, or a watchdog's error from `on_progress`: the pipeline was
        # unwound mid-loop and never reached its own cleanup.
        loaded.pipe.maybe_free_model_hooks()
        log.info("generation stopped after %d of %d steps", hook.steps_done, requests[0].steps)
        raise
    except Exception as exc:
        # Its traceback holds the pipeline's frames and with them their (CUDA) tensors, which the worker's
        # retry in halves needs back: keep the error for the logs without it, and free memory only once
        # this block has let go of the exception too.
        failure = _without_tracebacks(exc)
    loaded.pipe.maybe_free_model_hooks()
    gc.collect()  # tensors caught in reference cycles of the unwound call
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if isinstance(failure, torch.cuda.OutOfMemoryError):
        first = requests[0]
        raise OutOfMemoryError(
            OUT_OF_MEMORY_FOR.format(
                count=len(requests), frames=first.num_frames, width=first.width, height=first.height
            )
        ) from failure
    raise GenerationError(f"generation failed: {type(failure).__name__}: {one_line(failure)}") from failure


def _without_tracebacks(error: BaseException) -> BaseException:
    """`error` with its traceback and those of the exceptions chained to it dropped; returns `error`."""
    pending: list[BaseException | None] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending += [current.__cause__, current.__context__]
    return error


class _StepHook:
    """Per-call step callback in whichever style the pipeline takes: progress, cancellation, timing."""

    def __init__(
        self, loaded: LoadedPipeline, steps: int, on_progress: ProgressCallback | None, cancel: CancelToken
    ) -> None:
        self._loaded = loaded
        self._steps = steps
        self._on_progress = on_progress
        self._cancel = cancel
        self.steps_done = 0
        self.last_step_at: float | None = None

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments that install this hook in the pipeline call."""
        match self._loaded.callback_style:
            case CallbackStyle.STEP_END:
                return {"callback_on_step_end": self._on_step_end}
            case CallbackStyle.LEGACY:
                return {"callback": self._on_legacy_step, "callback_steps": 1}
            case CallbackStyle.NONE:
                return {}

    def _on_legacy_step(self, step: int, timestep: Any, latents: Any) -> None:
        self._step_done(self._steps)
        # Raising unwinds the pipeline's loop; the caller frees the offload hooks.
        self._cancel.raise_if_cancelled()

    def _on_step_end(self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        # Schedulers of order 2 run more timesteps than requested steps; the pipeline counts them.
        self._step_done(int(getattr(pipe, "num_timesteps", None) or self._steps))
        # Raising rather than setting the pipeline's `_interrupt` flag: an interrupted Wan or LTX call
        # still VAE-decodes the half-denoised latents, seconds of GPU time for a video nobody wants.
        self._cancel.raise_if_cancelled()
        return tensors

    def _step_done(self, total: int) -> None:
        self.steps_done += 1
        if self.steps_done >= total and self._loaded.device.type == "cuda":
            # Kernels run asynchronously: wait for the last step so it is not counted as decoding.
            torch.cuda.synchronize(self._loaded.device)
        self.last_step_at = time.perf_counter()
        if self._on_progress is not None and not self._cancel.cancelled:
            self._on_progress(self.steps_done, total)


def to_uint8_video(video: Any) -> npt.NDArray[np.uint8]:
    """One pipeline output video (frames as floats in [0, 1], uint8, or PIL images) as uint8 (T, H, W, 3)."""
    frames = np.stack([np.asarray(frame) for frame in video]) if isinstance(video, list) else np.asarray(video)
    if frames.ndim != 4:
        raise GenerationError(f"the pipeline returned frames shaped {frames.shape}, expected (frames, H, W, C)")
    if frames.dtype != np.uint8:
        frames = (np.clip(frames, 0.0, 1.0) * 255).round().astype(np.uint8)
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    return np.ascontiguousarray(frames[..., :3])


def _check_against_model(loaded: LoadedPipeline, request: VideoRequest) -> None:
    """Raise `GenerationError` for a request the loaded model cannot take as it is."""
    profile = loaded.profile
    try:
        profile.check_shape(request.width, request.height, request.num_frames)
    except InvalidRequestError as error:
        raise GenerationError(f"{profile.title} cannot make this video: {error}") from None
    if loaded.takes_image and not request.conditioned:
        raise GenerationError(f"{profile.title} animates a picture: the request needs an image")
    if not loaded.takes_image and request.extend is not None:
        raise GenerationError(f"{profile.title} makes videos from text only: it cannot extend a video")
    if not loaded.takes_image and request.image is not None:
        raise GenerationError(f"{profile.title} makes videos from text only: it cannot take an image")


def _pictures(requests: Sequence[VideoRequest]) -> list[Image.Image]:
    """The picture each request animates: its stored image, or the last frame of the video it extends."""
    pictures = []
    for request in requests:
        if request.image is not None:
            pictures.append(open_stored_image(request.image))
        elif request.extend is not None:
            try:
                pictures.append(last_frame(Path(request.extend), request.width, request.height, request.fps))
            except InvalidRequestError as error:
                raise GenerationError(f"this video cannot be extended: {error}") from None
    return pictures


def _call_arguments(
    loaded: LoadedPipeline, requests: Sequence[VideoRequest], seeds: Sequence[int], pictures: Sequence[Image.Image]
) -> dict[str, Any]:
    first = requests[0]
    extra: dict[str, Any] = {}
    if loaded.takes_image:
        # One picture as itself: not every image-to-video pipeline takes a list for a batch of one.
        extra["image"] = pictures[0] if len(pictures) == 1 else list(pictures)
    if loaded.takes_frame_rate:
        extra["frame_rate"] = first.fps
    return {
        **extra,
        "prompt": [request.prompt for request in requests],
        "negative_prompt": [request.negative_prompt for request in requests],
        "num_frames": first.num_frames,
        "height": first.height,
        "width": first.width,
        "num_inference_steps": first.steps,
        "guidance_scale": first.guidance_scale,
        "generator": [torch.Generator("cpu").manual_seed(seed) for seed in seeds],
        "output_type": "np",
    }


def _check_batch(requests: Sequence[VideoRequest], max_batch_size: int) -> None:
    if not requests:
        raise ValueError("generate() needs at least one request")
    if len(requests) > max_batch_size:
        raise ValueError(f"{len(requests)} requests exceed the batch limit of {max_batch_size}")
    if len({request.shape for request in requests}) != 1:
        raise ValueError("requests in one batch must share the same shape")
