"""Loading a diffusers video pipeline and placing it in memory, as the settings and the model profile say.

`load_pipeline` is the normal path (hub id or local folder). `prepare_pipeline` applies the same scheduler,
placement, VAE slicing/tiling and compile steps to a pipeline built some other way, e.g. the full-size model
with random weights that the GPU benchmark builds in memory. The loaded pipeline must be one the active
profile drives (`check_profile`), so the limits the bot offered fit it. Imports torch and diffusers: only
the generator and the CLI import this module.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import diffusers
import torch
from diffusers import DiffusionPipeline, DPMSolverMultistepScheduler
from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

from generation.config import EngineSettings, OffloadMode
from generation.errors import ModelLoadError, one_line
from generation.profiles import ModelProfile, SchedulerChoice, pipeline_class_name, profile_for_class

log = logging.getLogger(__name__)

_DTYPES: Final = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
# DPM-Solver++ reaches DDIM's quality in about half the steps, but only for noise-predicting models;
# flow-matching pipelines (Wan, LTX-Video) ship the scheduler they were trained with.
_SWAPPABLE_PREDICTIONS: Final = ("epsilon", "v_prediction")
_DENOISERS: Final = ("unet", "transformer")


class CallbackStyle(StrEnum):
    """How a pipeline reports denoising steps."""

    STEP_END = "step_end"
    """`callback_on_step_end(pipe, i, t, kwargs)`; the pipeline honours `pipe._interrupt` (Wan, LTX)."""
    LEGACY = "legacy"
    """`callback(step, timestep, latents)` with `callback_steps` (TextToVideoSDPipeline)."""
    NONE = "none"
    """No per-step hook: no progress, and cancellation only before the call starts."""


@dataclass(frozen=True)
class LoadedPipeline:
    """A pipeline ready to run, where it runs, and how it reports steps."""

    pipe: Any
    device: torch.device
    dtype: torch.dtype
    load_s: float
    callback_style: CallbackStyle
    profile: ModelProfile
    takes_image: bool
    """The pipeline's call has an `image` argument: it animates a picture (image-to-video)."""
    takes_frame_rate: bool
    """The call takes `frame_rate` (LTX-Video conditions its positions on it)."""


def resolve_device(settings: EngineSettings) -> tuple[torch.device, torch.dtype]:
    """The device and dtype to run on: CUDA when asked for (or `auto`) and present, else CPU in float32.

    Both names were checked when `settings` was built, so each is one torch knows.
    """
    wanted = settings.device
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(wanted)
    if device.type == "cuda" and not torch.cuda.is_available():
        log.warning("device %s requested but CUDA is not available: running on CPU in float32 (slow)", device)
        device = torch.device("cpu")
    if device.type == "cpu":
        # Half precision on CPU is slow or unsupported for several ops the pipelines use.
        if settings.torch_dtype != "float32":
            log.info("running on CPU: using float32 instead of %s", settings.torch_dtype)
        return device, torch.float32
    return device, _DTYPES[settings.torch_dtype]


def load_pipeline(settings: EngineSettings) -> LoadedPipeline:
    """Load `settings.model_id` (hub id or folder) and prepare it; raise `ModelLoadError` with a reason."""
    started = time.perf_counter()
    device, dtype = resolve_device(settings)
    saved_as = pipeline_class_name(settings.model_id, settings.hf_home)
    if saved_as is not None and settings.model_profile is not None:
        # The class the profile loads must take these weights; said before minutes of loading, not after.
        check_profile(saved_as, settings, also=settings.profile.loads_weights_of)
    pipe = _from_pretrained(settings.model_id, settings.model_variant, dtype, _pipeline_class(settings))
    check_profile(type(pipe).__name__, settings)
    try:
        loaded = prepare_pipeline(pipe, settings, device, dtype)
    except Exception as exc:
        raise ModelLoadError(f"cannot place model {settings.model_id} on {device}: {one_line(exc)}") from exc
    load_s = time.perf_counter() - started
    log.info("loaded %s (%s) in %.1f s", settings.model_id, type(pipe).__name__, load_s)
    return dataclasses.replace(loaded, load_s=load_s)


def prepare_pipeline(pipe: Any, settings: EngineSettings, device: torch.device, dtype: torch.dtype) -> LoadedPipeline:
    """Swap in DPM-Solver++ (noise-predicting models), place `pipe` on `device`, slice the VAE, compile.

    For pipelines built some other way than `load_pipeline` (the benchmark's random-weight model):
    `pipe` must already hold its weights in `dtype`. Offloading needs a GPU (accelerate raises without
    one), so on CPU the pipeline simply stays whole. `load_s` of the result is the time spent here.
    """
    started = time.perf_counter()
    profile = settings.profile
    if profile.scheduler is SchedulerChoice.DPM_SOLVER or profile_for_class(type(pipe).__name__, "") is None:
        _swap_scheduler(pipe)
    else:
        log.info("keeping %s's own scheduler, as profile %s says", type(pipe).__name__, profile.name)
    offload = settings.offload
    if device.type != "cuda" and offload is not OffloadMode.NONE:
        log.warning("offload %s needs a CUDA device; keeping the whole pipeline on %s", offload, device)
        offload = OffloadMode.NONE
    if offload is OffloadMode.MODEL:
        pipe.enable_model_cpu_offload(device=device)
    elif offload is OffloadMode.SEQUENTIAL:
        pipe.enable_sequential_cpu_offload(device=device)
    elif offload is OffloadMode.GROUP:
        # Leaf-level groups streamed ahead of use: close to model offload's speed at a fraction of its memory.
        pipe.enable_group_offload(
            onload_device=device, offload_device=torch.device("cpu"), offload_type="leaf_level", use_stream=True
        )
    else:
        pipe.to(device)
    if settings.layerwise_casting:
        _cast_layerwise(pipe, device, dtype)
    vae = getattr(pipe, "vae", None)
    if settings.vae_slicing and vae is not None and hasattr(vae, "use_slicing"):
        vae.enable_slicing()
    if settings.vae_tiling and vae is not None and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if settings.compile_unet:
        _compile_denoiser(pipe)
    pipe.set_progress_bar_config(disable=True)
    log.info("placed %s on %s in %s, offload %s, profile %s", type(pipe).__name__, device, dtype, offload, profile.name)
    parameters = inspect.signature(pipe.__call__).parameters
    return LoadedPipeline(
        pipe,
        device,
        dtype,
        time.perf_counter() - started,
        callback_style(pipe),
        profile,
        takes_image="image" in parameters,
        takes_frame_rate="frame_rate" in parameters,
    )


def check_profile(class_name: str, settings: EngineSettings, also: tuple[str, ...] = ()) -> None:
    """Raise `ModelLoadError` when a pipeline of `class_name` (or one of `also`) is not one the profile drives.

    A pipeline no shipped profile knows runs under the seed model's limits (as before profiles), unless
    `MODEL_PROFILE` named a profile, which must then fit.
    """
    profile = settings.profile
    if profile.loads(class_name) or class_name in also:
        return
    fitting = profile_for_class(class_name, settings.model_id)
    if fitting is None and settings.model_profile is None:
        log.warning("no model profile knows %s: using %s's limits; set MODEL_PROFILE if they do not fit",
                    class_name, profile.name)  # fmt: skip
        return
    advice = f"set MODEL_PROFILE={fitting.name}" if fitting is not None else "set MODEL_PROFILE= (empty)"
    raise ModelLoadError(
        f"model {settings.model_id} is a {class_name}, but model profile {profile.name} is for "
        f"{' or '.join(profile.pipeline_classes)}: {advice}, or MODEL_ID to a {profile.pipeline_classes[0]} model"
    )


def _pipeline_class(settings: EngineSettings) -> Any:
    """The class to load: the named profile's own (LTX-Video's weights load as image-to-video too), else any."""
    if settings.model_profile is None:
        return DiffusionPipeline
    return getattr(diffusers, settings.profile.pipeline_classes[0])


def _cast_layerwise(pipe: Any, device: torch.device, dtype: torch.dtype) -> None:
    if device.type != "cuda":
        log.warning("layerwise casting needs a CUDA device; keeping %s weights", dtype)
        return
    for name in _DENOISERS:
        module = getattr(pipe, name, None)
        if module is not None and hasattr(module, "enable_layerwise_casting"):
            # Weights stored in float8 and upcast layer by layer: about half the memory of bfloat16.
            module.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
            log.info("%s stores its weights in float8_e4m3fn, computes in %s", name, dtype)
            return


def callback_style(pipe: Any) -> CallbackStyle:
    """Which per-step callback the pipeline's `__call__` accepts, read from its signature."""
    parameters = inspect.signature(pipe.__call__).parameters
    if "callback_on_step_end" in parameters:
        return CallbackStyle.STEP_END
    if "callback" in parameters and "callback_steps" in parameters:
        return CallbackStyle.LEGACY
    return CallbackStyle.NONE


def _from_pretrained(model_id: str, variant: str | None, dtype: torch.dtype, pipeline_class: Any) -> Any:
    looks_like_path = model_id.startswith(("/", "./", "../", "~")) or Path(model_id).exists()
    if looks_like_path and not Path(model_id).expanduser().is_dir():
        raise ModelLoadError(f"cannot load model {model_id}: no such folder")
    location = str(Path(model_id).expanduser()) if looks_like_path else model_id
    try:
        return _from_pretrained_variant(location, variant or None, dtype, pipeline_class)
    except Exception as exc:
        raise ModelLoadError(f"cannot load model {model_id}: {_load_failure_reason(exc)}") from exc


def _from_pretrained_variant(location: str, variant: str | None, dtype: torch.dtype, pipeline_class: Any) -> Any:
    try:
        return pipeline_class.from_pretrained(location, dtype=dtype, variant=variant)
    except ValueError as exc:
        # diffusers refuses a variant that has no weight files instead of falling back by itself.
        if variant is None or "variant" not in str(exc):
            raise
    log.warning("model %s has no %s weights; loading the default ones (set MODEL_VARIANT= to skip)", location, variant)
    return pipeline_class.from_pretrained(location, dtype=dtype)


def _swap_scheduler(pipe: Any) -> None:
    scheduler = getattr(pipe, "scheduler", None)
    if scheduler is None or isinstance(scheduler, DPMSolverMultistepScheduler):
        return
    config = scheduler.config
    compatible = DPMSolverMultistepScheduler in scheduler.compatibles
    noise_predicting = config.get("prediction_type", "epsilon") in _SWAPPABLE_PREDICTIONS
    if compatible and noise_predicting and not config.get("use_flow_sigmas", False):
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(config)
    else:
        log.info("keeping the pipeline's own scheduler %s", type(scheduler).__name__)


def _compile_denoiser(pipe: Any) -> None:
    for name in _DENOISERS:
        module = getattr(pipe, name, None)
        if isinstance(module, torch.nn.Module):
            # In place, so the pipeline (and offload hooks) keep the same module object. Each new
            # num_frames or size recompiles: the first request of every shape is slow.
            module.compile()
            log.info("compiled %s; each new shape recompiles on first use", name)
            return
    log.warning("compile_unet is set but the pipeline has neither a unet nor a transformer")


def _load_failure_reason(exc: Exception) -> str:
    # The hub's messages run to several lines of advice; the operator needs the gist on one line.
    if isinstance(exc, GatedRepoError):
        return "the model is gated: accept its licence on the hub and set HF_TOKEN"
    if isinstance(exc, RepositoryNotFoundError):
        return "no such model on the Hugging Face hub"
    if isinstance(exc, HFValidationError):
        return "neither a folder nor a valid hub id"
    if isinstance(exc, OSError) and "cached" in str(exc):
        return "it is not in the local cache and the hub cannot be reached"
    return one_line(exc)
