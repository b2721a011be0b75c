"""GPU benchmark of the seed model at full size: offload vs resident, batching, torch.compile, VAE slicing.

    python -m bench.gpu_bench --out bench/results/h100-2025-06-01.json [--configs offload resident] [--runs 5]
    python -m bench.gpu_bench --tiny        # CPU smoke run on the tiny random-weight pipeline

Builds damo-vilab/text-to-video-ms-1.7b from the configs in bench/models/ with random weights (same
compute as the real ones) in float16 on the GPU, once. Each configuration is then applied by the engine's
own `prepare_pipeline` and run through `DiffusersGenerator`, so the figures are the engine's: one warm-up
call, then `--runs` timed calls, median. Reported per configuration: seconds per video (batch time /
batch size), videos per hour, the engine's denoise/decode split, peak CUDA memory over the timed calls,
and the UNet's achieved TFLOP/s against the GPU's dense fp16 peak. Speedups are against the seed recipe
(model CPU offload, batch 1) measured in the same process. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import diffusers
import torch
import transformers

from bench.flops import peak_tflops, unet_flops_per_step
from bench.full_model import DEFAULT_MODEL_DIR, build_full_pipeline, parameter_counts
from bench.gpu_configs import BASELINE, CONFIGS, BenchOptions
from bench.gpu_measure import measure
from bench.gpu_report import (
    SCHEMA_VERSION,
    BenchReport,
    ConfigResult,
    Environment,
    Workload,
    format_table,
    with_speedups,
)
from generation.config import EngineSettings
from generation.errors import InvalidRequestError
from generation.pipeline import resolve_device
from generation.request import GUIDANCE, VideoRequest

log = logging.getLogger(__name__)


def run_benchmark(options: BenchOptions, on_update: Callable[[BenchReport], None] | None = None) -> BenchReport:
    """Build the model once, measure each selected configuration on it, and return the report. Blocking.

    `on_update` gets the report so far after each configuration (`complete` false until the last), so a
    run cut short, by a time limit or a crash in a later configuration, keeps what it measured.
    """
    tiny = options.tiny
    device, dtype = resolve_device(
        EngineSettings(device="cpu" if tiny else "auto", torch_dtype="float32" if tiny else "float16")
    )
    peak, peak_source = _peak(device, options.peak_tflops)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory() as folder:
        pipe, model = _build(options, device, dtype, Path(folder))
        environment = _environment(device, dtype, peak, peak_source)
        flops = _flop_counter(pipe, options)
        selected = [config for config in CONFIGS if config.name in options.configs]
        if not selected:
            raise ValueError("no configuration selected")
        results: list[ConfigResult] = []
        for config in selected:
            result = _with_tflops(measure(pipe, config, options, device, dtype, flops), options.steps, peak)
            results.append(result)
            note = f", {result.per_video_s:.2f} s per video" if result.per_video_s else f" ({result.reason})"
            print(f"  {config.name}: {result.status}{note}", flush=True)
            report = BenchReport(
                SCHEMA_VERSION,
                created,
                environment,
                _workload(pipe, model, options),  # after `measure`: the engine swaps the scheduler
                BASELINE,
                with_speedups(results, BASELINE),
                complete=len(results) == len(selected),
            )
            if on_update is not None:
                on_update(report)
    return report


def _environment(device: torch.device, dtype: torch.dtype, peak: float | None, peak_source: str) -> Environment:
    return Environment(
        gpu_name=torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.machine()})",
        device=str(device),
        dtype=str(dtype).removeprefix("torch."),
        torch_version=torch.__version__,
        diffusers_version=diffusers.__version__,
        transformers_version=transformers.__version__,
        cuda_version=torch.version.cuda,
        peak_tflops=peak,
        peak_tflops_source=peak_source,
    )


def _workload(pipe: Any, model: str, options: BenchOptions) -> Workload:
    return Workload(
        model=model,
        tiny=options.tiny,
        parameters=parameter_counts(pipe),
        num_frames=options.num_frames,
        width=options.size,
        height=options.size,
        steps=options.steps,
        guidance_scale=GUIDANCE.default,
        runs=options.runs,
        scheduler=type(pipe.scheduler).__name__,
    )


def _build(options: BenchOptions, device: torch.device, dtype: torch.dtype, folder: Path) -> tuple[Any, str]:
    started = time.perf_counter()
    if options.tiny:
        # The tests' tiny pipeline, loaded the way the engine loads a model folder.
        from diffusers import TextToVideoSDPipeline

        from tests.fixtures.tiny_pipeline import build_tiny_pipeline

        path = build_tiny_pipeline(folder / "tiny")
        pipe = TextToVideoSDPipeline.from_pretrained(path, dtype=dtype)
        model = "tiny random-weight pipeline"
    else:
        pipe = build_full_pipeline(options.model_dir, device, dtype)
        model = f"{options.model_dir.name} (random weights)"
    print(f"built {model} on {device} in {time.perf_counter() - started:.1f} s", flush=True)
    return pipe, model


def _flop_counter(pipe: Any, options: BenchOptions) -> Callable[[int], int]:
    """UNet FLOPs of one step for a batch of `videos` (counted once per batch size, on `meta`)."""
    scale = pipe.vae_scale_factor
    # guidance_scale > 1 (the default 9) makes the pipeline run the UNet on both halves of the guidance.
    halves = 2 if GUIDANCE.default > 1.0 else 1

    @functools.cache
    def count(videos: int) -> int:
        return unet_flops_per_step(
            type(pipe.unet),
            pipe.unet.config,
            batch=halves * videos,
            num_frames=options.num_frames,
            latent_size=(options.size // scale, options.size // scale),
            text_tokens=pipe.tokenizer.model_max_length,
        )

    return count


def _peak(device: torch.device, override: float | None) -> tuple[float | None, str]:
    if override is not None:
        return override, "--peak-tflops"
    if device.type != "cuda":
        return None, "unknown"
    tflops = peak_tflops(torch.cuda.get_device_name(device))
    return tflops, "table" if tflops is not None else "unknown"


def _with_tflops(result: ConfigResult, steps: int, peak: float | None) -> ConfigResult:
    if result.unet_flops_per_step is None or not result.denoise_s:
        return result
    # DPM-Solver++ (multistep) evaluates the UNet once per step, so steps × one forward is the total.
    achieved = result.unet_flops_per_step * steps / result.denoise_s / 1e12
    return dataclasses.replace(result, unet_tflops=achieved, peak_fraction=achieved / peak if peak else None)


def parse_options(argv: Sequence[str] | None = None) -> BenchOptions:
    """Parse the command line; `--tiny` changes the defaults to a CPU-sized run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    names = [config.name for config in CONFIGS]
    parser.add_argument("--out", type=Path, help="write the JSON report here (e.g. bench/results/h100-DATE.json)")
    parser.add_argument("--configs", nargs="+", choices=names, default=names, metavar="NAME", help=", ".join(names))
    parser.add_argument("--runs", type=int, help="timed runs per configuration, after one warm-up (5; tiny 2)")
    parser.add_argument("--frames", type=int, help="frames per video (16; tiny 8)")
    parser.add_argument("--steps", type=int, help="denoising steps (25; tiny 4)")
    parser.add_argument("--size", type=int, help="width and height in pixels (256; tiny 64)")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="configs of the full model")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run on the tiny random pipeline")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense fp16 peak, if not in the table")
    args = parser.parse_args(argv)
    tiny = bool(args.tiny)
    options = BenchOptions(
        configs=tuple(args.configs),
        runs=_given(args.runs, 2 if tiny else 5),
        num_frames=_given(args.frames, 8 if tiny else 16),
        steps=_given(args.steps, 4 if tiny else 25),
        size=_given(args.size, 64 if tiny else 256),
        model_dir=args.model_dir,
        tiny=tiny,
        peak_tflops=args.peak_tflops,
        out=args.out,
    )
    # Checked before minutes of model building; VideoRequest knows the limits of frames, steps and size.
    if options.runs < 1:
        parser.error(f"--runs must be at least 1 (got {options.runs})")
    try:
        VideoRequest("x", steps=options.steps, num_frames=options.num_frames, width=options.size, height=options.size)
    except InvalidRequestError as exc:
        parser.error(str(exc))
    return options


def _given(value: int | None, default: int) -> int:
    return default if value is None else value


def main(argv: Sequence[str] | None = None) -> BenchReport:
    """Run the benchmark from the command line: print the table and write the JSON when `--out` is given."""
    options = parse_options(argv)
    out = options.out
    report = run_benchmark(options, on_update=None if out is None else lambda partial: partial.write_json(out))
    print(format_table(report))
    if out is not None:
        print(f"wrote {out}")
    return report


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    main()
