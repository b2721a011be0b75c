"""What the GPU benchmark compares: the configurations, the baseline, the prompts, and the run's options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from generation.config import OffloadMode


@dataclass(frozen=True)
class BenchConfig:
    """One way of running the engine: placement, batch size, VAE slicing, compile."""

    name: str
    description: str
    offload: OffloadMode = OffloadMode.NONE
    batch_size: int = 1
    vae_slicing: bool = True
    compile_unet: bool = False


# Order matters: compiling is done in place and not undone, so compiled configurations come last.
CONFIGS: Final = (
    BenchConfig("offload", "seed recipe: model CPU offload, batch 1 (baseline)", OffloadMode.MODEL),
    BenchConfig("resident", "whole pipeline kept on the GPU, batch 1"),
    BenchConfig("batch2", "resident, 2 queued prompts in one call", batch_size=2),
    BenchConfig("batch4", "resident, 4 queued prompts in one call", batch_size=4),
    BenchConfig("batch8", "resident, 8 queued prompts in one call", batch_size=8),
    BenchConfig("no_slicing", "resident, batch 1, VAE decodes all frames at once", vae_slicing=False),
    BenchConfig(
        "batch8_no_slicing", "resident, batch 8, VAE decodes all frames at once", batch_size=8, vae_slicing=False
    ),
    BenchConfig("compiled", "resident, batch 1, UNet under torch.compile", compile_unet=True),
)
BASELINE: Final = "offload"
# Distinct prompts as the queue batches them (same shape, different users); the text does not change the cost.
PROMPTS: Final = (
    "a red panda eating bamboo in the rain",
    "a sailing boat on a stormy sea at night",
    "time-lapse of clouds over a mountain lake",
    "a robot dancing in a neon-lit street",
    "a cat chasing a laser pointer, slow motion",
    "fireworks over a city skyline",
    "a hot air balloon drifting over a desert",
    "waves crashing on black volcanic rocks",
)


@dataclass(frozen=True)
class BenchOptions:
    """What to run: the command line, with the tiny-mode defaults filled in."""

    configs: tuple[str, ...]
    runs: int
    num_frames: int
    steps: int
    size: int
    model_dir: Path
    tiny: bool
    peak_tflops: float | None
    out: Path | None
