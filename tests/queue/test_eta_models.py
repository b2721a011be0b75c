"""ETAs with several models on one GPU: every job before it on the GPU, whatever its model, and the
swaps the line foresees, at each model's learnt load time."""

from __future__ import annotations

from pathlib import Path

import pytest

from generation.queue.core import QueueCore
from generation.queue.eta import EtaEstimator
from generation.queue.events import EventHub
from generation.queue.scheduler import FairScheduler
from generation.queue.store import JobStore
from tests.fakes.clock import FakeClock
from tests.queue.conftest import request, spec

COST = request().cost


def test_a_swap_costs_the_mean_of_that_models_loads() -> None:
    eta = EtaEstimator(window=2)
    for seconds in (90.0, 20.0, 40.0):
        eta.record_load("quality", seconds)

    assert eta.load("quality") == pytest.approx(30.0)


def test_a_model_never_loaded_is_guessed_from_the_others_and_unknown_before_any() -> None:
    eta = EtaEstimator(window=5)
    assert eta.load("fast") is None

    eta.record_load("quality", 10.0)
    eta.record_load("classic", 30.0)

    assert eta.load("fast") == pytest.approx(20.0)


async def core_holding(model: str, eta: EtaEstimator, tmp_path: Path) -> QueueCore:
    store = JobStore(tmp_path / "jobs.sqlite3")
    await store.open()
    scheduler = FairScheduler(10, 10)
    scheduler.hold(model)
    return QueueCore(scheduler, store, eta, EventHub(10), FakeClock())


async def test_an_eta_counts_the_other_models_jobs_ahead_and_the_swap_before_it(tmp_path: Path) -> None:
    eta = EtaEstimator(window=5)
    eta.record(request(model="fast").shape, cost=COST, seconds=10.0, after_s=0.0)
    eta.record(request(model="quality").shape, cost=COST, seconds=20.0, after_s=0.0)
    eta.record_load("quality", 30.0)
    core = await core_holding("fast", eta, tmp_path)

    await core.admit("ann-quality", spec("ann", model="quality"))
    await core.admit("bob-fast", spec("bob", model="fast"))

    assert core.line() == {"bob-fast": (1, pytest.approx(10.0)), "ann-quality": (2, pytest.approx(60.0))}


async def test_a_swap_to_a_model_whose_load_time_is_unknown_leaves_the_eta_unknown(tmp_path: Path) -> None:
    eta = EtaEstimator(window=5)
    eta.record(request(model="fast").shape, cost=COST, seconds=10.0, after_s=0.0)
    eta.record(request(model="quality").shape, cost=COST, seconds=20.0, after_s=0.0)
    core = await core_holding("fast", eta, tmp_path)

    await core.admit("ann-quality", spec("ann", model="quality"))

    assert core.line() == {"ann-quality": (1, None)}
