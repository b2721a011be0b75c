"""The seed model at full size with random weights, built in memory from its verbatim configs.

`bench/models/text-to-video-ms-1.7b/` holds the config and tokenizer files of damo-vilab/text-to-video-ms-1.7b
(see SOURCES.md there) but no weights. Random weights cost exactly the compute of the real ones, so the GPU
benchmark measures the real model without a 3.7 GB download. Built on `torch.device("meta")` the same
function gives the architecture at no cost, which the tests use to check the classes and parameter counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import torch
from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

DEFAULT_MODEL_DIR: Final = Path(__file__).parent / "models" / "text-to-video-ms-1.7b"


@dataclass(frozen=True)
class ParameterCounts:
    """Number of parameters of each model of the pipeline."""

    unet: int
    text_encoder: int
    vae: int


def build_full_pipeline(model_dir: Path, device: torch.device, dtype: torch.dtype) -> Any:
    """`TextToVideoSDPipeline` of the configs in `model_dir` with random weights, on `device` in `dtype`.

    The weights are created directly on `device` (fast on a GPU, nothing allocated on `meta`) with a
    fixed seed; the scheduler is the model's DDIM, which `prepare_pipeline` swaps for DPM-Solver++ as
    it does for the real model.
    """
    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet3DConditionModel.from_config(UNet3DConditionModel.load_config(model_dir / "unet"))
        vae = AutoencoderKL.from_config(AutoencoderKL.load_config(model_dir / "vae"))
        text_encoder = CLIPTextModel(CLIPTextConfig.from_pretrained(model_dir / "text_encoder"))
    pipe: Any = TextToVideoSDPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=CLIPTokenizer.from_pretrained(model_dir / "tokenizer"),
        unet=unet,
        scheduler=DDIMScheduler.from_pretrained(model_dir / "scheduler"),
    )
    # Created in float32 (the modules' own init), then cast: the pipeline must hold its weights in the
    # dtype `prepare_pipeline` is told.
    return pipe.to(dtype=dtype)


def parameter_counts(pipe: Any) -> ParameterCounts:
    """Parameters of the pipeline's UNet, text encoder and VAE (works on `meta` too)."""

    def count(module: torch.nn.Module) -> int:
        return sum(parameter.numel() for parameter in module.parameters())

    return ParameterCounts(unet=count(pipe.unet), text_encoder=count(pipe.text_encoder), vae=count(pipe.vae))
