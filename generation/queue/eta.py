"""Estimates of how long jobs take, learnt from the jobs that ran (no clock of its own).

The unit is seconds per unit of `VideoRequest.cost`, averaged over the last `window` runs as a ratio of
sums (so one long outlier weighs by its cost, not by its count). Runs of the same shape are preferred
when there are any, because seconds per cost unit is not linear across resolutions; otherwise the
overall average is used. A batched run records its total cost and its wall time, so the rate learnt
already includes what batching saves.

There is no made-up prior: until one run is known the estimates are None (the queue seeds the
estimator from the history in its database at start-up, so this only holds on a fresh install).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Final

_MAX_SHAPES: Final = 64


@dataclass(frozen=True)
class Sample:
    """One finished run: its total cost and how many seconds it took (model loading excluded)."""

    cost: float
    seconds: float


class EtaEstimator:
    """Running average of seconds per cost unit, overall and per shape."""

    def __init__(self, window: int) -> None:
        self._window = window
        self._overall: deque[Sample] = deque(maxlen=window)
        # Least recently seen shapes are forgotten first, so odd one-off sizes do not pile up.
        self._by_shape: OrderedDict[Hashable, deque[Sample]] = OrderedDict()

    def record(self, shape: Hashable, cost: float, seconds: float) -> None:
        """Learn from a run of `shape` with total `cost` that took `seconds`."""
        if cost <= 0 or seconds < 0:
            return
        sample = Sample(cost, seconds)
        self._overall.append(sample)
        samples = self._by_shape.pop(shape, None) or deque(maxlen=self._window)
        samples.append(sample)
        self._by_shape[shape] = samples
        while len(self._by_shape) > _MAX_SHAPES:
            self._by_shape.popitem(last=False)

    def estimate(self, shape: Hashable, cost: float) -> float | None:
        """Seconds a job of `shape` and `cost` should take, or None before anything was recorded."""
        samples = self._by_shape.get(shape) or self._overall
        if not samples:
            return None
        total_cost = sum(sample.cost for sample in samples)
        return cost * sum(sample.seconds for sample in samples) / total_cost

    def remaining(
        self, shape: Hashable, cost: float, elapsed_s: float, step: int = 0, total_steps: int = 0
    ) -> float | None:
        """Seconds left for a run that has been going `elapsed_s` and finished `step` of `total_steps`.

        The run's own pace (seconds per step so far) wins over history once a step is done; with
        neither, None.
        """
        if step > 0 and total_steps > 0:
            return max(0.0, elapsed_s / step * (total_steps - step))
        expected = self.estimate(shape, cost)
        return None if expected is None else max(0.0, expected - elapsed_s)


def running_totals(start_s: float | None, durations: Iterable[float | None]) -> list[float | None]:
    """Cumulative sums of `durations` after `start_s`; None from the first unknown value on."""
    totals: list[float | None] = []
    total = start_s
    for duration in durations:
        total = None if total is None or duration is None else total + duration
        totals.append(total)
    return totals
