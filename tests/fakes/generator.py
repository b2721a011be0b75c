"""`FakeGenerator`: the `VideoGenerator` Protocol without a model, for queue and bot tests.

It behaves like the real engine at the seam: blocking, one progress call per step, the cancel token
checked between steps, seeds drawn for requests without one, one clip per request in order. Prompts
steer failures: "FAIL" raises `GenerationError` and "OOM" raises `OutOfMemoryError` half-way through
the steps (after some progress, as on a GPU), the latter only for batches of at least `oom_min_batch`
so the queue's retry-smaller path can be tested.

Time is never what keeps a job running: `hold_steps=True` holds every denoising step at the `steps`
gate until the test releases it, and `hold_load=True` holds the model load at the `loading` gate
(see `tests.fakes.gate`). A held step still notices its cancel token, so cancelling, the watchdog and
shutdown interrupt a held job as they would a real one between steps. The denoising time it reports
is measured on `clock`: hand it the test's `FakeClock` and a job takes exactly as long as the test
advanced that clock while it ran.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from generation.clock import SYSTEM_CLOCK, Clock
from generation.errors import GenerationError, OutOfMemoryError
from generation.protocol import CancelToken, ProgressCallback
from generation.queue.reasons import OUT_OF_MEMORY_FOR
from generation.request import MAX_SEED, VideoRequest
from generation.results import GeneratedClip, Timings
from tests.fakes.gate import Gate

FAKE_MEMORY_BYTES = 1 << 30


class FakeGenerator:
    """A deterministic stand-in for the diffusion generator; records every batch it was given."""

    def __init__(
        self,
        *,
        hold_steps: bool = False,
        hold_load: bool = False,
        max_batch_size: int = 4,
        oom_min_batch: int = 1,
        rng_seed: int = 0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.steps = Gate(held=hold_steps)
        self.loading = Gate(held=hold_load)
        self.oom_min_batch = oom_min_batch
        self.calls: list[list[VideoRequest]] = []
        self.loads = 0
        self._max_batch_size = max_batch_size
        self._loaded = False
        self._rng = random.Random(rng_seed)
        self._clock = clock
        # The queue promises one generate at a time; this catches it if it ever breaks that promise.
        self._busy = threading.Lock()

    @property
    def max_batch_size(self) -> int:
        """How many same-shape requests one `generate` call accepts."""
        return self._max_batch_size

    def memory_in_use(self) -> int | None:
        """A fixed figure, as if the model were resident on an accelerator."""
        return FAKE_MEMORY_BYTES

    def load(self) -> float:
        """Pretend to load the model once; later calls cost nothing."""
        if self._loaded:
            return 0.0
        self.loading.pass_through()
        self._loaded = True
        self.loads += 1
        return 0.0

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        """Pass the `steps` gate once per step, reporting progress; frames are a pure function of the seed."""
        if not self._busy.acquire(blocking=False):
            raise AssertionError("FakeGenerator.generate called concurrently")
        try:
            return self._generate(list(requests), on_progress, cancel)
        finally:
            self._busy.release()

    def _generate(
        self,
        requests: list[VideoRequest],
        on_progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> list[GeneratedClip]:
        self.calls.append(requests)
        if len({request.shape for request in requests}) != 1:
            raise AssertionError(f"batch mixes shapes: {[request.shape for request in requests]}")
        seeds = [self._rng.randint(0, MAX_SEED) if r.seed is None else r.seed for r in requests]
        steps = requests[0].steps
        fail_at = steps // 2
        started = self._clock.monotonic()
        for step in range(1, steps + 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if step > fail_at:
                self._raise_if_asked(requests)
            if not self.steps.pass_through(cancel) and cancel is not None:
                cancel.raise_if_cancelled()
            if on_progress is not None:
                on_progress(step, steps)
        denoise_s = self._clock.monotonic() - started
        return [
            self.finish(GeneratedClip(request, seed, fake_frames(request, seed), Timings(denoise_s=denoise_s)))
            for request, seed in zip(requests, seeds, strict=True)
        ]

    def finish(self, clip: GeneratedClip) -> GeneratedClip:
        """Each clip on its way out, for a subclass to mark (where it was made) or change (its frames)."""
        return clip

    def _raise_if_asked(self, requests: list[VideoRequest]) -> None:
        prompts = [request.prompt for request in requests]
        if any("OOM" in prompt for prompt in prompts) and len(requests) >= self.oom_min_batch:
            first = requests[0]
            raise OutOfMemoryError(
                OUT_OF_MEMORY_FOR.format(
                    count=len(requests), frames=first.num_frames, width=first.width, height=first.height
                )
            )
        if any("FAIL" in prompt for prompt in prompts):
            raise GenerationError("the fake generator was asked to fail")


def fake_frames(request: VideoRequest, seed: int) -> npt.NDArray[np.uint8]:
    """Frames shaped (num_frames, height, width, 3) whose values depend only on the seed and frame index."""
    frames = np.empty((request.num_frames, request.height, request.width, 3), dtype=np.uint8)
    frames[:] = ((seed + np.arange(request.num_frames)) % 256).astype(np.uint8)[:, None, None, None]
    return frames
