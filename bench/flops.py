"""UNet FLOPs of one denoising step, and the dense fp16/bf16 tensor-core peak of common GPUs.

FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode` over one forward of a copy of the UNet
built on `torch.device("meta")`: shapes only, so counting costs neither memory nor device time and gives
the same figure on any machine. On meta, attention runs as two batched matmuls, which the counter
counts; on CPU the fused attention kernel is not counted at all, so real tensors would undercount there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import torch
from torch.utils.flop_counter import FlopCounterMode

# Dense (no structured sparsity) fp16/bf16 tensor-core TFLOP/s with fp32 accumulation, as PyTorch runs
# half-precision matmuls. NVIDIA's datasheets quote "with sparsity" figures; dense is half of those:
# H100 SXM 1,979 -> 989; H100 NVL 1,671 -> 835; H100 PCIe 1,513 -> 756; H200 (SXM) 1,979 -> 989;
# A100 312 (dense, as quoted); L4 242 -> 121; RTX 4090 165 (Ada whitepaper, fp32 accumulate). Boost
# clocks are assumed; sustained clocks under load are lower, so even a perfect kernel stays below these.
# First match wins: the PCIe and NVL variants must come before the plain H100 (SXM) entry.
_PEAK_TFLOPS: Final = (
    (re.compile(r"H100.*PCIe", re.IGNORECASE), 756.0),
    (re.compile(r"H100.*NVL", re.IGNORECASE), 835.0),
    (re.compile(r"H100", re.IGNORECASE), 989.0),
    (re.compile(r"H200", re.IGNORECASE), 989.0),
    (re.compile(r"A100", re.IGNORECASE), 312.0),
    (re.compile(r"\bL4\b"), 121.0),
    (re.compile(r"RTX 4090", re.IGNORECASE), 165.0),
)


def peak_tflops(gpu_name: str) -> float | None:
    """Dense fp16/bf16 peak TFLOP/s of the GPU called `gpu_name` (as CUDA names it), or None if unknown."""
    for pattern, tflops in _PEAK_TFLOPS:
        if pattern.search(gpu_name):
            return tflops
    return None


def unet_flops_per_step(
    unet_class: type[Any],
    unet_config: Mapping[str, Any],
    *,
    batch: int,
    num_frames: int,
    latent_size: tuple[int, int],
    text_tokens: int,
) -> int:
    """FLOPs of one forward of the UNet on `batch` latents of `num_frames` × `latent_size` (height, width).

    `batch` is what the UNet sees: with classifier-free guidance the pipeline stacks the unconditional
    and conditional halves, so it is twice the number of videos.
    """
    with torch.device("meta"):
        unet = unet_class.from_config(unet_config)
        sample = torch.empty(batch, unet.config.in_channels, num_frames, *latent_size)
        text = torch.empty(batch, text_tokens, unet.config.cross_attention_dim)
        timestep = torch.tensor(999)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        unet(sample, timestep, encoder_hidden_states=text)
    return int(counter.get_total_flops())
