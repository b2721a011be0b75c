"""What Extend adds to a job past generation: the last frame read from the video, and the joined encode.

An original of `--frames` synthetic frames (drifting gradients with grain, as `encode_bench` makes) is
encoded once at `--width`×`--height`; a continuation of as many frames is then timed three ways: encoded
alone (what a job without Extend costs), `last_frame` of the original (before the pipeline runs) and
`join` (the original decoded and re-encoded, then the continuation). Each runs once to warm up, then
`--repeats` times; the median is reported. CPU only (x264 runs on the CPU wherever the model runs).

Run from the repository root:

    .venv/bin/python -m bench.extend_bench [--repeats 5] [--frames 121] [--width 704] [--height 480]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.encode_bench import synthetic_frames
from generation.encode import encode_mp4
from generation.extend import join, last_frame


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of `run` over `repeats` calls after one warm-up."""
    run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Parse the options, time each stage and print one line each plus the join's share over encoding alone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--width", type=int, default=704)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=int, default=24)
    options = parser.parse_args()

    side = max(options.width, options.height)
    frames = synthetic_frames(2 * options.frames, side)[:, : options.height, : options.width]
    first, second = np.ascontiguousarray(frames[: options.frames]), np.ascontiguousarray(frames[options.frames :])
    fps, width, height = options.fps, options.width, options.height
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        original = encode_mp4(first, fps, out / "original.mp4").path
        stages: dict[str, Callable[[], object]] = {
            "continuation encoded alone": lambda: encode_mp4(second, fps, out / "alone.mp4"),
            "last_frame of the original": lambda: last_frame(original, width, height, fps),
            "join (original + continuation)": lambda: join(original, second, fps, out / "joined.mp4"),
        }
        results = {name: median_seconds(run, options.repeats) for name, run in stages.items()}

    count = options.frames
    print(f"{count} + {count} frames at {width}×{height}, {fps} fps, median of {options.repeats} runs")
    for name, seconds in results.items():
        print(f"  {name:32s} {seconds:7.2f} s")
    extra = results["join (original + continuation)"] + results["last_frame of the original"]
    print(f"  Extend adds {extra - results['continuation encoded alone']:.2f} s to the job's encode")


if __name__ == "__main__":
    main()
