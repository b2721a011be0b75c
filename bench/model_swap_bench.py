"""Model swap cost: what the in-process queue pays when the GPU changes models (`generation.model_shelf`).

A swap is the shelf's two calls: `unload()` of the model held (drop the pipeline, free its memory) and
`load()` of the other, through `load_pipeline` (`from_pretrained` and placement, as at start-up). Both
are timed here on the same generators and settings the queue uses, alternating between the models
`--repeats` times (the first load of each, which reads the files cold, is reported apart from the
median of the rest, which the OS file cache helps). The figure is seconds per model: what a member
whose job needs that model waits beyond the jobs ahead, and what the queue's ETAs add per swap.

Models: the tiny random-weight seed model and tiny LTX-Video of the tests (CPU), and with `--full` the
seed model at full size with random weights (`bench/full_model.py`), saved in float16 to a temporary
folder first, so it is loaded from disk as a real one is (3.5 GB; minutes on a CPU, seconds on a GPU).

    .venv/bin/python -m bench.model_swap_bench [--repeats 5] [--device cpu|cuda] [--full]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.full_model import DEFAULT_MODEL_DIR, build_full_pipeline
from generation.config import EngineSettings, OffloadMode
from generation.generator import DiffusersGenerator
from tests.fixtures.tiny_pipeline import build_tiny_pipeline

# Imported by name: that fixture module is typed for the tests (pytest), not for mypy's strict bench
# run, which would otherwise follow the import into it.
build_tiny_ltx_pipeline = importlib.import_module("tests.fixtures.tiny_ltx").build_tiny_ltx_pipeline


@dataclass(frozen=True)
class SwapFigures:
    """Seconds to load one model in a swap (cold first, then the median of the warm ones) and to unload it."""

    model: str
    cold_load_s: float
    warm_load_s: float | None
    unload_s: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="swaps to each model")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    parser.add_argument("--full", action="store_true", help="add the full-size seed model (random weights)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        models = {
            "tiny-seed": build_tiny_pipeline(root / "tiny-seed"),
            "tiny-ltx": build_tiny_ltx_pipeline(root / "tiny-ltx"),
        }
        if options.full:
            models["full-seed"] = _saved_full_seed(root / "full-seed")
        figures = measure(models, options.device, options.repeats, root / "videos")
    dtype = "float16" if options.device.startswith("cuda") else "float32"
    print(f"device {options.device} ({_device_name(options.device)}), {dtype}, {options.repeats} swaps to each model")
    print(f"{'model':<10} {'first load s':>13} {'load s (median)':>16} {'unload s':>9} {'swap s':>8}")
    for figure in figures:
        warm = figure.warm_load_s if figure.warm_load_s is not None else figure.cold_load_s
        print(
            f"{figure.model:<10} {figure.cold_load_s:>13.2f} {_shown(figure.warm_load_s):>16}"
            f" {figure.unload_s:>9.3f} {warm + figure.unload_s:>8.2f}"
        )
    print("swap s: the median load of the model plus the unload of one before it (its own, as a stand-in)")


def measure(models: dict[str, Path], device: str, repeats: int, output_dir: Path) -> list[SwapFigures]:
    """Swap round-robin through `models` `repeats` times each, timing every unload and load."""
    generators = {name: DiffusersGenerator(_settings(path, device, output_dir)) for name, path in models.items()}
    loads: dict[str, list[float]] = {name: [] for name in models}
    unloads: dict[str, list[float]] = {name: [] for name in models}
    held: str | None = None
    for _ in range(repeats):
        for name, generator in generators.items():
            if held is not None:
                started = time.perf_counter()
                generators[held].unload()
                unloads[held].append(time.perf_counter() - started)
            loads[name].append(generator.load())
            held = name
    return [
        SwapFigures(
            model=name,
            cold_load_s=loads[name][0],
            warm_load_s=statistics.median(loads[name][1:]) if len(loads[name]) > 1 else None,
            unload_s=statistics.median(unloads[name]) if unloads[name] else 0.0,
        )
        for name in models
    ]


def _settings(model_dir: Path, device: str, output_dir: Path) -> EngineSettings:
    """The engine settings the queue would give this model: its profile picked from the folder."""
    dtype = "float16" if device.startswith("cuda") else "float32"
    return EngineSettings(
        _env_file=None,
        model_id=str(model_dir),
        model_variant=None,
        torch_dtype=dtype,
        device=device,
        offload=OffloadMode.NONE,
        output_dir=output_dir,
    )


def _saved_full_seed(folder: Path) -> Path:
    """The full-size seed model with random weights, saved in float16 where `from_pretrained` reads it."""
    build_full_pipeline(DEFAULT_MODEL_DIR, torch.device("cpu"), torch.float16).save_pretrained(folder)
    return folder


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else "CPU"


def _shown(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}"


if __name__ == "__main__":
    main()
