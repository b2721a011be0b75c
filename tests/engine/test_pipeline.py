"""Loading: weight variants, scheduler swap, placement, CPU fallback, clear errors for models that fail."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from diffusers import DPMSolverMultistepScheduler, TextToVideoSDPipeline, UniPCMultistepScheduler
from pydantic import ValidationError

from generation.config import EngineSettings, OffloadMode
from generation.errors import ModelLoadError
from generation.pipeline import CallbackStyle, load_pipeline, resolve_device

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback on machines without CUDA")


def _settings(model: Path | str, **overrides: Any) -> EngineSettings:
    values: dict[str, Any] = {
        "model_id": str(model),
        "torch_dtype": "float32",
        "device": "cpu",
        "offload": OffloadMode.NONE,
        **overrides,
    }
    return EngineSettings(**values)


def _copy_without(source: Path, dest: Path, pattern: str) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(pattern))
    return dest


def test_loads_the_seed_model_classes_from_a_folder(tiny_engine_settings: EngineSettings) -> None:
    loaded = load_pipeline(tiny_engine_settings)

    assert isinstance(loaded.pipe, TextToVideoSDPipeline)
    assert (loaded.device, loaded.dtype) == (torch.device("cpu"), torch.float32)
    assert loaded.load_s > 0


def test_loads_the_fp16_variant_and_upcasts_it_on_cpu(tiny_engine_settings: EngineSettings) -> None:
    weight = load_pipeline(tiny_engine_settings).pipe.unet.conv_in.weight

    assert weight.dtype == torch.float32
    # Weights that came from the fp16 files survive a round trip through float16 unchanged.
    assert torch.equal(weight, weight.half().float())


def test_falls_back_to_the_default_weights_with_a_warning_when_the_variant_is_missing(
    tiny_model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _copy_without(tiny_model_dir, tmp_path / "model", "*.fp16.*")

    loaded = load_pipeline(_settings(folder, model_variant="fp16"))

    assert isinstance(loaded.pipe, TextToVideoSDPipeline)
    assert "no fp16 weights" in caplog.text


def test_swaps_the_seed_models_ddim_scheduler_for_dpm_solver(tiny_engine_settings: EngineSettings) -> None:
    scheduler = load_pipeline(tiny_engine_settings).pipe.scheduler

    assert isinstance(scheduler, DPMSolverMultistepScheduler)
    assert scheduler.config.beta_schedule == "scaled_linear"


def test_keeps_the_scheduler_of_a_flow_matching_model(tiny_wan_dir: Path) -> None:
    loaded = load_pipeline(_settings(tiny_wan_dir, model_variant=None))

    assert type(loaded.pipe.scheduler) is UniPCMultistepScheduler


def test_reads_the_callback_style_from_the_pipeline_signature(
    tiny_engine_settings: EngineSettings, tiny_wan_dir: Path
) -> None:
    seed_model = load_pipeline(tiny_engine_settings)
    wan = load_pipeline(_settings(tiny_wan_dir, model_variant=None))

    assert seed_model.callback_style is CallbackStyle.LEGACY
    assert wan.callback_style is CallbackStyle.STEP_END


def test_enables_vae_slicing_when_asked(tiny_engine_settings: EngineSettings) -> None:
    assert load_pipeline(tiny_engine_settings).pipe.vae.use_slicing


@no_cuda
def test_cuda_requested_without_cuda_falls_back_to_cpu_in_float32_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    device, dtype = resolve_device(EngineSettings(device="cuda", torch_dtype="float16"))

    assert (device, dtype) == (torch.device("cpu"), torch.float32)
    assert any(r.levelno == logging.WARNING and "CUDA is not available" in r.message for r in caplog.records)


@no_cuda
def test_offload_without_a_gpu_keeps_the_pipeline_whole_with_a_warning(
    tiny_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = load_pipeline(_settings(tiny_model_dir, device="auto", offload=OffloadMode.MODEL))

    assert loaded.pipe.unet.device == torch.device("cpu")
    assert "offload model needs a CUDA device" in caplog.text


def test_a_missing_folder_is_a_model_load_error() -> None:
    with pytest.raises(ModelLoadError, match="no such folder"):
        load_pipeline(_settings("/nonexistent/text-to-video"))


def test_a_folder_missing_a_component_is_a_model_load_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = _copy_without(tiny_model_dir, tmp_path / "model", "unet")

    with pytest.raises(ModelLoadError, match=r"^cannot load model .*model: ") as caught:
        load_pipeline(_settings(folder))

    assert "\n" not in str(caught.value)


def test_a_malformed_hub_id_is_a_model_load_error() -> None:
    with pytest.raises(ModelLoadError, match="neither a folder nor a valid hub id"):
        load_pipeline(_settings("not a model id!"))


def test_an_unknown_dtype_is_refused_by_the_settings_naming_what_is_allowed() -> None:
    with pytest.raises(ValidationError, match="torch_dtype\n  Value error, must be float16, bfloat16 or float32"):
        EngineSettings(torch_dtype="float8")


def test_tiles_vae_decoding_when_asked_and_not_otherwise(tiny_ltx_dir: Path) -> None:
    assert load_pipeline(_settings(tiny_ltx_dir, vae_tiling=True)).pipe.vae.use_tiling
    assert not load_pipeline(_settings(tiny_ltx_dir)).pipe.vae.use_tiling


@no_cuda
def test_group_offload_and_layerwise_casting_without_a_gpu_keep_the_weights_whole_with_warnings(
    tiny_ltx_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tiny_ltx_dir, device="auto", offload=OffloadMode.GROUP, layerwise_casting=True)

    loaded = load_pipeline(settings)

    assert next(loaded.pipe.transformer.parameters()).dtype == torch.float32
    assert "offload group needs a CUDA device" in caplog.text
    assert "layerwise casting needs a CUDA device" in caplog.text
