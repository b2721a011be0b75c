"""`BusyGenerator`: a generator whose every step keeps its thread busy in Python, holding the GIL.

A real pipeline's Python side (the scheduler step, hooks, callbacks, tensor bookkeeping) holds the GIL
for much of each step; the event loop then only gets the interpreter at the switch interval. This
stands in for that worst case without a model: each step spins in pure Python for `step_s` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from generation.protocol import CancelToken, ProgressCallback
from generation.request import VideoRequest
from generation.results import GeneratedClip, Timings


class BusyGenerator:
    """Spins in Python for `step_s` per denoising step; frames are flat grey."""

    max_batch_size = 1

    def __init__(self, step_s: float = 0.05) -> None:
        self.step_s = step_s

    def memory_in_use(self) -> int | None:
        """No accelerator."""
        return None

    def load(self) -> float:
        """Nothing to load."""
        return 0.0

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        """Spin through the steps, reporting progress and honouring the cancel token."""
        started = time.perf_counter()
        total = requests[0].steps
        for step in range(1, total + 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            _spin(self.step_s)
            if on_progress is not None:
                on_progress(step, total)
        denoise_s = time.perf_counter() - started
        return [
            GeneratedClip(
                request,
                request.seed or 0,
                np.full((request.num_frames, request.height, request.width, 3), 128, dtype=np.uint8),
                Timings(denoise_s=denoise_s),
            )
            for request in requests
        ]


def _spin(seconds: float) -> None:
    """Pure-Python work for `seconds` of wall time (no sleeping, no C call that drops the GIL)."""
    deadline = time.perf_counter() + seconds
    total = 0
    while time.perf_counter() < deadline:
        for value in range(200):
            total += value * value
