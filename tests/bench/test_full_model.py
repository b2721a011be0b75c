"""The benchmark's full-size model is the seed model's architecture: built on `meta`, so it costs nothing."""

from __future__ import annotations

import pytest
import torch
from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from bench.flops import peak_tflops, unet_flops_per_step
from bench.full_model import DEFAULT_MODEL_DIR, build_full_pipeline, parameter_counts

META = torch.device("meta")


def test_full_size_configs_build_the_seed_model_classes_and_sizes() -> None:
    pipe = build_full_pipeline(DEFAULT_MODEL_DIR, META, torch.float16)

    components = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
    assert {name: type(getattr(pipe, name)) for name in components} == {
        "unet": UNet3DConditionModel,
        "vae": AutoencoderKL,
        "text_encoder": CLIPTextModel,
        "tokenizer": CLIPTokenizer,
        "scheduler": DDIMScheduler,
    }
    counts = parameter_counts(pipe)
    # The hub's fp16 weight files hold 2 bytes per parameter (bench/models/.../SOURCES.md).
    assert counts.unet == pytest.approx(2_822_650_226 / 2, rel=0.02)
    assert counts.text_encoder == pytest.approx(680_821_102 / 2, rel=0.02)
    assert counts.vae == pytest.approx(167_335_350 / 2, rel=0.02)
    assert pipe.text_encoder.config.num_hidden_layers == 23
    assert len(pipe.tokenizer) == 49_408
    assert pipe.vae_scale_factor == 8
    parameters = [*pipe.unet.parameters(), *pipe.vae.parameters(), *pipe.text_encoder.parameters()]
    assert {(p.device.type, p.dtype) for p in parameters} == {("meta", torch.float16)}
    assert isinstance(pipe, TextToVideoSDPipeline)


def test_unet_flops_grow_linearly_with_the_batch() -> None:
    config = UNet3DConditionModel.load_config(DEFAULT_MODEL_DIR / "unet")

    def flops(batch: int) -> int:
        return unet_flops_per_step(
            UNet3DConditionModel, config, batch=batch, num_frames=16, latent_size=(32, 32), text_tokens=77
        )

    one_video = flops(2)

    # About 10 TFLOP per guided step of 16 frames at 256×256: most of it convolutions and projections.
    assert 5e12 < one_video < 20e12
    assert flops(4) == 2 * one_video


@pytest.mark.parametrize(
    ("name", "tflops"),
    [
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA H100 NVL", 835.0),
        ("NVIDIA H200", 989.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA L4", 121.0),
        ("NVIDIA GeForce RTX 4090", 165.0),
        ("NVIDIA L40S", None),
    ],
)
def test_peak_tflops_by_gpu_name(name: str, tflops: float | None) -> None:
    assert peak_tflops(name) == tflops
