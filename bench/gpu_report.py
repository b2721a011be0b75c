"""What the GPU benchmark records: frozen dataclasses written as JSON (schema in bench/results/README.md)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from bench.full_model import ParameterCounts

SCHEMA_VERSION: Final = 1
_GIB: Final = 1024**3


class Status(StrEnum):
    """How one configuration's measurement ended."""

    OK = "ok"
    SKIPPED = "skipped"
    OUT_OF_MEMORY = "out_of_memory"
    FAILED = "failed"


@dataclass(frozen=True)
class ConfigResult:
    """Figures of one configuration; timings are medians over the timed runs (None when not measured)."""

    name: str
    description: str
    offload: str
    batch_size: int
    vae_slicing: bool
    compile_unet: bool
    status: Status
    reason: str | None = None
    prepare_s: float | None = None
    """`prepare_pipeline` (placement, offload hooks, slicing, compile wrapper; compiling happens later)."""
    warmup_s: float | None = None
    """The first, untimed call: CUDA/cuDNN warm-up, and for compiled configurations the compilation."""
    runs_s: tuple[float, ...] = ()
    """Wall time of each timed `generate` call (one batch)."""
    batch_s: float | None = None
    per_video_s: float | None = None
    videos_per_hour: float | None = None
    denoise_s: float | None = None
    decode_s: float | None = None
    compile_s: float | None = None
    """Compiled configurations: warm-up minus a steady call, the cost of the first compilation."""
    new_shape_frames: int | None = None
    new_shape_first_call_s: float | None = None
    """Compiled configurations: first call at another frame count (recompiles), to compare with `batch_s`."""
    weights_bytes: int | None = None
    """CUDA memory allocated right after placement: the resident weights (near 0 under offload)."""
    peak_allocated_bytes: int | None = None
    peak_reserved_bytes: int | None = None
    unet_flops_per_step: int | None = None
    unet_tflops: float | None = None
    """UNet FLOPs of all steps divided by `denoise_s` (which also holds prompt encoding and, under offload,
    moving the models to the GPU)."""
    peak_fraction: float | None = None
    speedup: float | None = None
    """Videos per hour relative to the baseline configuration of the same run."""


@dataclass(frozen=True)
class Environment:
    """Where the benchmark ran."""

    gpu_name: str
    device: str
    dtype: str
    torch_version: str
    diffusers_version: str
    transformers_version: str
    cuda_version: str | None
    peak_tflops: float | None
    peak_tflops_source: str
    """"table" (by GPU name, see bench/flops.py), "--peak-tflops", or "unknown"."""


@dataclass(frozen=True)
class Workload:
    """What every configuration generates."""

    model: str
    tiny: bool
    parameters: ParameterCounts
    num_frames: int
    width: int
    height: int
    steps: int
    guidance_scale: float
    runs: int
    scheduler: str


@dataclass(frozen=True)
class BenchReport:
    """One benchmark run: environment, workload, and every configuration in the order run."""

    schema_version: int
    created_at: str
    environment: Environment
    workload: Workload
    baseline: str
    configs: tuple[ConfigResult, ...]
    complete: bool = True
    """False in a report written while later configurations were still to run."""

    def write_json(self, path: Path) -> None:
        """Write the report to `path` as indented JSON (creating its folder), replacing it in one step.

        Replaced, not rewritten in place, so a run killed while writing leaves the previous report whole.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n", encoding="utf-8")
        partial.replace(path)


def with_speedups(results: list[ConfigResult], baseline: str) -> tuple[ConfigResult, ...]:
    """`results` with `speedup` filled in against the measured baseline (left None when it was not measured)."""
    base = next((r for r in results if r.name == baseline and r.videos_per_hour is not None), None)
    if base is None or base.videos_per_hour is None:
        return tuple(results)
    return tuple(
        dataclasses.replace(r, speedup=r.videos_per_hour / base.videos_per_hour) if r.videos_per_hour else r
        for r in results
    )


def format_table(report: BenchReport) -> str:
    """The report as a fixed-width text table, one line per configuration."""
    env, work = report.environment, report.workload
    measured = any(r.name == report.baseline and r.status is Status.OK for r in report.configs)
    baseline_note = "" if measured else " (not measured)"
    lines = [
        f"{env.gpu_name} ({env.dtype}), torch {env.torch_version}, diffusers {env.diffusers_version}",
        f"{work.model}: {work.num_frames} frames {work.width}×{work.height}, {work.steps} steps {work.scheduler}, "
        f"median of {work.runs} runs; speedup against {report.baseline}{baseline_note}",
        f"{'config':18} {'s/video':>8} {'videos/h':>9} {'speedup':>8} {'denoise':>8} {'decode':>7} "
        f"{'peak GiB':>8} {'TFLOP/s':>8} {'of peak':>7}",
    ]
    for r in report.configs:
        if r.status is not Status.OK:
            lines.append(f"{r.name:18} {r.status}: {r.reason}")
            continue
        lines.append(
            f"{r.name:18} {_num(r.per_video_s, 8, 2)} {_num(r.videos_per_hour, 9, 0)} {_num(r.speedup, 8, 2, '×')} "
            f"{_num(r.denoise_s, 8, 2)} {_num(r.decode_s, 7, 2)} "
            f"{_num(r.peak_allocated_bytes and r.peak_allocated_bytes / _GIB, 8, 1)} "
            f"{_num(r.unet_tflops, 8, 2)} {_num(r.peak_fraction and 100 * r.peak_fraction, 7, 1, '%')}"
        )
        if r.compile_s is not None:
            lines.append(
                f"{'':18} compile {r.compile_s:.1f} s; first call at {r.new_shape_frames} frames "
                f"{_num(r.new_shape_first_call_s, 0, 1)} s (recompiles)"
            )
    return "\n".join(lines)


def _num(value: float | None, width: int, decimals: int, unit: str = "") -> str:
    text = "-" if value is None else f"{value:.{decimals}f}{unit}"
    return f"{text:>{width}}"
