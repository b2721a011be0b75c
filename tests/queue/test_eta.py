"""ETAs learnt from finished runs: per cost unit, per shape when known, nothing made up."""

from __future__ import annotations

import pytest

from generation.queue.eta import EtaEstimator


def test_nothing_is_estimated_before_a_run_is_known() -> None:
    assert EtaEstimator(window=5).estimate("s", cost=10) is None


def test_estimate_scales_with_cost() -> None:
    eta = EtaEstimator(window=5)
    eta.record("s", cost=10, seconds=5.0)

    assert eta.estimate("s", cost=20) == pytest.approx(10.0)


def test_runs_of_the_same_shape_are_preferred_over_the_overall_average() -> None:
    eta = EtaEstimator(window=5)
    eta.record("small", cost=10, seconds=1.0)
    eta.record("large", cost=10, seconds=9.0)

    assert eta.estimate("small", cost=10) == pytest.approx(1.0)
    assert eta.estimate("unseen", cost=10) == pytest.approx(5.0)


def test_only_the_last_window_of_runs_counts() -> None:
    eta = EtaEstimator(window=2)
    for seconds in (100.0, 2.0, 2.0):
        eta.record("s", cost=1, seconds=seconds)

    assert eta.estimate("s", cost=1) == pytest.approx(2.0)


def test_a_running_job_is_extrapolated_from_its_own_pace_once_a_step_is_done() -> None:
    eta = EtaEstimator(window=5)
    eta.record("s", cost=1, seconds=100.0)

    assert eta.remaining("s", cost=1, elapsed_s=2.0, step=1, total_steps=5) == pytest.approx(8.0)
    assert eta.remaining("s", cost=1, elapsed_s=30.0) == pytest.approx(70.0)
