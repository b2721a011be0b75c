"""Encoding speed: our in-process `encode_mp4` (PyAV) against diffusers' `export_to_video` (imageio-ffmpeg).

Both encode the same 16 synthetic frames at 256×256 (moving gradients with a little grain, closer to
generated video than pure noise) with libx264 at their defaults: ours at CRF 18 with `+faststart`,
`export_to_video` at quality 5 (imageio-ffmpeg turns that into CRF 25, no faststart). Ours is also timed
at CRF 25, so the speed difference at equal quality settings shows too. Each variant runs once to warm
up, then `--repeats` times; the median is reported. CPU only.

Run from the repository root with the test extras installed (`pip install imageio imageio-ffmpeg`):

    .venv/bin/python bench/encode_bench.py [--repeats 15] [--frames 16] [--size 256]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from diffusers.utils.export_utils import export_to_video

from generation.encode import encode_mp4


def synthetic_frames(count: int, size: int) -> npt.NDArray[np.uint8]:
    """Frames of gradients drifting over time plus mild noise, shaped (count, size, size, 3)."""
    axis = np.linspace(0.0, 1.0, size, dtype=np.float32)
    rows, cols = np.meshgrid(axis, axis, indexing="ij")
    grain = np.random.default_rng(0).normal(0.0, 0.03, (count, size, size, 3)).astype(np.float32)
    frames = np.empty((count, size, size, 3), dtype=np.float32)
    for index in range(count):
        shift = index / count
        frames[index, ..., 0] = (np.sin(6.0 * (rows + shift)) + 1.0) / 2.0
        frames[index, ..., 1] = (cols + shift) % 1.0
        frames[index, ..., 2] = rows * cols
    video: npt.NDArray[np.uint8] = (np.clip(frames + grain, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return video


def median_seconds(run: Callable[[], Path], repeats: int) -> tuple[float, int]:
    """Median wall time of `run` over `repeats` calls after one warm-up, and the size of what it wrote."""
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        path = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), path.stat().st_size


def main() -> None:
    """Parse the options, run each encoder and print one line per encoder plus the speed ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--fps", type=int, default=8)
    options = parser.parse_args()

    frames = synthetic_frames(options.frames, options.size)
    # export_to_video takes float frames in [0, 1] (it multiplies by 255 itself).
    float_frames = list(frames.astype(np.float32) / 255.0)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        encoders: dict[str, Callable[[], Path]] = {
            "encode_mp4 (PyAV, CRF 18, faststart)": lambda: encode_mp4(frames, options.fps, out / "a.mp4").path,
            "encode_mp4 (PyAV, CRF 25, faststart)": lambda: encode_mp4(frames, options.fps, out / "b.mp4", crf=25).path,
            "export_to_video (imageio-ffmpeg, quality 5)": lambda: Path(
                export_to_video(float_frames, str(out / "c.mp4"), fps=options.fps)
            ),
        }
        results = {name: median_seconds(run, options.repeats) for name, run in encoders.items()}

    print(f"{options.frames} frames at {options.size}×{options.size}, median of {options.repeats} runs")
    for name, (seconds, size) in results.items():
        print(f"  {name:46s} {seconds * 1000:8.1f} ms  {size / 1024:7.1f} KiB")
    ours, _ = results["encode_mp4 (PyAV, CRF 25, faststart)"]
    theirs, _ = results["export_to_video (imageio-ffmpeg, quality 5)"]
    print(f"  export_to_video / encode_mp4 at CRF 25: {theirs / ours:.1f}× the time")


if __name__ == "__main__":
    main()
