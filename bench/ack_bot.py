"""The bot process of `bench.ack_bench`: the real bot and queue, with a generator that holds the GIL.

    python -m bench.ack_bot      (configured from the environment, like `python -m bot`)

It runs what `python -m bot` runs (on the same event loop), except that the generator is `BusyGenerator` (`BENCH_STEP_S`
seconds of pure Python per step), either on the queue's GPU thread in this process
(`BENCH_GPU=thread`, the layout before the GPU process) or in a child process as in production
(`BENCH_GPU=process`). It measures its own event-loop lag while a generation runs and the garbage
collector's pauses, and on SIGTERM shuts down as the bot does and prints one JSON line with both (each
sample stamped on the monotonic clock the bench's emulator also reads) for the bench to read.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import os
import time
from collections.abc import Sequence

from bench.busy_generator import BusyGenerator
from bot.observability.logging_setup import configure_logging
from bot.settings import Settings
from bot.startup.event_loop import run_on_best_loop
from bot.startup.run import main
from generation.process_generator import ProcessGenerator
from generation.protocol import CancelToken, ProgressCallback, VideoGenerator
from generation.queue.local import LocalJobQueue
from generation.request import VideoRequest
from generation.results import GeneratedClip

_TICK_S = 0.02


class Watched:
    """Delegates to a generator and says whether a `generate` call is running."""

    def __init__(self, inner: VideoGenerator) -> None:
        self._inner = inner
        self.busy = False

    @property
    def max_batch_size(self) -> int:
        """The inner generator's."""
        return self._inner.max_batch_size

    def memory_in_use(self) -> int | None:
        """The inner generator's."""
        return self._inner.memory_in_use()

    def load(self) -> float:
        """The inner generator's."""
        return self._inner.load()

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        """The inner generator's, flagged as running while it runs."""
        self.busy = True
        try:
            return self._inner.generate(requests, on_progress, cancel)
        finally:
            self.busy = False


async def watch_lag(generator: Watched, samples: list[tuple[float, float]]) -> None:
    """Record how late a 20 ms timer fires, whenever a generation is running, with when (monotonic
    seconds: the bench's emulator reads the same clock, so it can tell samples in a burst from the rest)."""
    loop = asyncio.get_running_loop()
    while True:
        expected = loop.time() + _TICK_S
        await asyncio.sleep(_TICK_S)
        if generator.busy:
            samples.append((time.monotonic(), max(0.0, loop.time() - expected)))


class CollectorPauses:
    """Each of the garbage collector's pauses as (when it ended, seconds, generation), from `gc.callbacks`."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float, int]] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((time.monotonic(), time.perf_counter() - self._started, info["generation"]))


async def run(settings: Settings, generator: Watched) -> dict[str, list[tuple[float, float]]]:
    """Run the bot until SIGTERM; the lag samples (when, seconds late) and the collector's pauses
    (when, seconds)."""
    queue = LocalJobQueue(settings, settings, generator)
    samples: list[tuple[float, float]] = []
    collector = CollectorPauses()
    gc.callbacks.append(collector)
    watcher = asyncio.create_task(watch_lag(generator, samples))
    try:
        await main(settings, queue)
    finally:
        watcher.cancel()
        gc.callbacks.remove(collector)
    return {"loop_lag": samples, "gc": [(at, seconds) for at, seconds, _ in collector.pauses]}


def entry() -> None:
    """`python -m bench.ack_bot`."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format, [settings.discord_token.get_secret_value()])
    step_s = float(os.environ.get("BENCH_STEP_S", "0.05"))
    inner: VideoGenerator = BusyGenerator(step_s)
    if os.environ.get("BENCH_GPU", "process") == "process":
        inner = ProcessGenerator(functools.partial(BusyGenerator, step_s), max_batch_size=1)
    print(json.dumps(run_on_best_loop(run(settings, Watched(inner)))), flush=True)


if __name__ == "__main__":
    entry()
