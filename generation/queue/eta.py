"""Estimates of how long jobs take, learnt from the jobs that ran (no clock of its own).

The unit is seconds per unit of `VideoRequest.cost`, averaged over the last `window` runs as a ratio of
sums (so one long outlier weighs by its cost, not by its count). Runs of the same shape are preferred
when there are any, because seconds per cost unit is not linear across resolutions; otherwise the
overall average is used. A batched run records its total cost and its wall time, so the rate learnt
already includes what batching saves.

Each run also records how much of its time came after the last denoising step (VAE decode and MP4
encode, often tens of seconds on a GPU): a running job's progress only counts steps, so that part is
added to what its own pace projects.

Swapping models on one GPU costs a load: `record_load` learns each model's load seconds (the mean of
its last `window` loads), for the in-process queue's ETAs to add where the line swaps.

There is no made-up prior: until one run is known the estimates are None (the queue seeds the
estimator from the history in its database at start-up, so this only holds on a fresh install).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable
from typing import Final

_MAX_SHAPES: Final = 64


class _Window:
    """The last `size` (cost, seconds, after_s) samples with their sums, so an estimate costs O(1)."""

    __slots__ = ("after_s", "cost", "samples", "seconds")

    def __init__(self, size: int) -> None:
        self.samples: deque[tuple[float, float, float]] = deque(maxlen=size)
        self.cost = 0.0
        self.seconds = 0.0
        self.after_s = 0.0

    def add(self, cost: float, seconds: float, after_s: float) -> None:
        if len(self.samples) == self.samples.maxlen:
            old_cost, old_seconds, old_after_s = self.samples[0]
            self.cost -= old_cost
            self.seconds -= old_seconds
            self.after_s -= old_after_s
        self.samples.append((cost, seconds, after_s))
        self.cost += cost
        self.seconds += seconds
        self.after_s += after_s

    def rate(self) -> float | None:
        return self.seconds / self.cost if self.samples else None

    def after_rate(self) -> float | None:
        return self.after_s / self.cost if self.samples else None


class EtaEstimator:
    """Running average of seconds per cost unit, overall and per shape."""

    def __init__(self, window: int) -> None:
        self._window = window
        self._overall = _Window(window)
        # Least recently seen shapes are forgotten first, so odd one-off sizes do not pile up.
        self._by_shape: OrderedDict[Hashable, _Window] = OrderedDict()
        self._loads: dict[str, deque[float]] = {}
        self.version = 0  # changes whenever an estimate may have changed

    def record_load(self, model: str, seconds: float) -> None:
        """Learn that loading `model` (a swap to it) took `seconds`."""
        if seconds >= 0:
            self.version += 1
            self._loads.setdefault(model, deque(maxlen=self._window)).append(seconds)

    def load(self, model: str) -> float | None:
        """Seconds a swap to `model` should take: its loads' mean, else all models' (a guess better than
        none: loads scale with size, not kind), else None before any load was recorded."""
        samples = self._loads.get(model) or [seconds for loads in self._loads.values() for seconds in loads]
        return sum(samples) / len(samples) if samples else None

    def record(self, shape: Hashable, cost: float, seconds: float, *, after_s: float) -> None:
        """Learn from a run of `shape` with total `cost` that took `seconds`, `after_s` of them after the last step."""
        if cost <= 0 or seconds < 0:
            return
        after_s = min(max(after_s, 0.0), seconds)
        self.version += 1
        self._overall.add(cost, seconds, after_s)
        samples = self._by_shape.pop(shape, None) or _Window(self._window)
        samples.add(cost, seconds, after_s)
        self._by_shape[shape] = samples
        while len(self._by_shape) > _MAX_SHAPES:
            self._by_shape.popitem(last=False)

    def estimate(self, shape: Hashable, cost: float) -> float | None:
        """Seconds a job of `shape` and `cost` should take, or None before anything was recorded."""
        rate = self.rate(shape)
        return None if rate is None else cost * rate

    def rate(self, shape: Hashable) -> float | None:
        """Seconds per cost unit for `shape`, or None before anything was recorded."""
        return self._samples(shape).rate()

    def remaining(
        self, shape: Hashable, cost: float, elapsed_s: float, step: int = 0, total_steps: int = 0
    ) -> float | None:
        """Seconds left for a run that has been going `elapsed_s` and finished `step` of `total_steps`.

        Once a step is done, the run's own pace (seconds per step so far) projects the steps left, and
        history adds what comes after the last step; before that, history alone; with neither, None.
        """
        if step > 0 and total_steps > 0:
            after_rate = self._samples(shape).after_rate()
            after_s = 0.0 if after_rate is None else cost * after_rate
            return max(0.0, elapsed_s / step * (total_steps - step)) + after_s
        expected = self.estimate(shape, cost)
        return None if expected is None else max(0.0, expected - elapsed_s)

    def _samples(self, shape: Hashable) -> _Window:
        return self._by_shape.get(shape) or self._overall
