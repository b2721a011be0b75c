"""Several models on one GPU: same-model runs kept together, within the bound `scheduler` states.

The bound, checked against the plain fair order (`fair_order()`) over random traffic: the jobs that
start before a job are those ahead of it there plus at most one batch of the model the GPU holds, taken
in one `pop_batch`; no more swaps happen before it than the plain order puts before it; a job is passed
at most once in its whole wait; each owner's jobs run in submission order; batches hold one model.
With weights too (`WeightedModelLineMachine`): a passing job uses its owner's turn as its fair one would.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections import Counter, defaultdict

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from generation.queue.scheduler import FairScheduler, Ticket


def ticket(job_id: str, model: str, shape: str = "s") -> Ticket:
    """A ticket whose owner is the job id's letter ("a2" is owner a's job); the model is in its shape, as
    `VideoRequest.shape` has it."""
    return Ticket(job_id, owner_id=job_id[0], shape=(shape, model), model=model)


def scheduler_holding(model: str, *tickets: Ticket, batch_size: int = 1) -> FairScheduler:
    scheduler = FairScheduler(max_waiting=100, max_per_owner=100, batch_size=batch_size)
    scheduler.hold(model)
    for each in tickets:
        scheduler.push(each)
    return scheduler


def drained(scheduler: FairScheduler, size: int) -> list[list[str]]:
    """The batches the worker takes, in order, until nothing waits."""
    batches = []
    while batch := scheduler.pop_batch(size):
        batches.append([each.job_id for each in batch])
    return batches


def swaps(held: str | None, models: list[str | None]) -> int:
    """Model changes a GPU holding `held` goes through to run `models` in this order."""
    changes = 0
    for model in models:
        if model is not None:
            changes += held is not None and model != held
            held = model
    return changes


def test_a_job_for_the_held_model_passes_a_head_that_needs_a_swap() -> None:
    scheduler = scheduler_holding("x", ticket("a1", "y"), ticket("b1", "x"))

    assert drained(scheduler, 1) == [["b1"], ["a1"]]


def test_a_job_is_passed_once_then_runs_even_at_the_price_of_a_swap() -> None:
    scheduler = scheduler_holding("x", ticket("a1", "y"), ticket("b1", "x"), ticket("c1", "x"))

    assert drained(scheduler, 1) == [["b1"], ["a1"], ["c1"]]


def test_an_owners_later_job_never_passes_its_earlier_one() -> None:
    scheduler = scheduler_holding("x", ticket("a1", "y"), ticket("a2", "x"))

    assert drained(scheduler, 1) == [["a1"], ["a2"]]


def test_three_members_over_two_models_swap_twice_instead_of_five_times() -> None:
    jobs = [("a1", "x"), ("b1", "y"), ("c1", "x"), ("a2", "y"), ("b2", "x"), ("c2", "y")]
    scheduler = scheduler_holding("x", *(ticket(job_id, model) for job_id, model in jobs))
    model_of = dict(jobs)
    plain = [each.job_id for each in scheduler.fair_order()]

    taken = [batch[0] for batch in drained(scheduler, 1)]

    assert plain == ["a1", "b1", "c1", "a2", "b2", "c2"]
    assert taken == ["a1", "c1", "b1", "a2", "c2", "b2"]
    assert (swaps("x", [model_of[j] for j in plain]), swaps("x", [model_of[j] for j in taken])) == (5, 2)


def test_a_passing_batch_holds_several_jobs_of_the_held_model_and_never_another() -> None:
    scheduler = scheduler_holding(
        "x", ticket("a1", "y"), ticket("b1", "x"), ticket("c1", "x"), ticket("d1", "y"), batch_size=3
    )

    assert drained(scheduler, 3) == [["b1", "c1"], ["a1", "d1"]]


def test_the_announced_order_is_the_order_taken() -> None:
    jobs = [("a1", "y"), ("b1", "x"), ("a2", "x"), ("c1", "y"), ("b2", "y"), ("c2", "x")]
    scheduler = scheduler_holding("x", *(ticket(job_id, model) for job_id, model in jobs), batch_size=2)
    announced = [each.job_id for each in scheduler.order()]

    assert [job_id for batch in drained(scheduler, 2) for job_id in batch] == announced


class ModelLineMachine(RuleBasedStateMachine):
    """Random submissions over three owners and two models, takes of batches and cancellations."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_size = 2
        self.scheduler = scheduler_holding("x", batch_size=self.batch_size)
        self.ids = itertools.count(1)
        self.submitted: dict[str, list[str]] = defaultdict(list)
        self.taken: dict[str, list[str]] = defaultdict(list)
        self.model_of: dict[str, str] = {}
        self.times_passed: Counter[str] = Counter()

    @rule(owner=st.sampled_from("abc"), model=st.sampled_from("xy"), shape=st.sampled_from(["small", "wide"]))
    def submit(self, owner: str, model: str, shape: str) -> None:
        job_id = f"{owner}{next(self.ids)}"
        self.scheduler.push(ticket(job_id, model, shape))
        self.submitted[owner].append(job_id)
        self.model_of[job_id] = model

    @precondition(lambda self: self.scheduler.waiting_count > 0)
    @rule(size=st.integers(1, 2))
    def take(self, size: int) -> None:
        plain = [each.job_id for each in self.scheduler.fair_order()]
        batch = [each.job_id for each in self.scheduler.pop_batch(size)]
        assert 1 <= len(batch) <= size
        assert len({self.model_of[job_id] for job_id in batch}) == 1
        self.times_passed.update(plain[: plain.index(batch[0])])
        assert max(self.times_passed.values(), default=0) <= 1
        for job_id in batch:
            self.taken[job_id[0]].append(job_id)
            self.scheduler.finish(job_id)

    @precondition(lambda self: self.scheduler.waiting_count > 0)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from([each.job_id for each in self.scheduler.order()]))
        self.scheduler.remove(job_id)
        self.submitted[job_id[0]].remove(job_id)

    @invariant()
    def each_owners_jobs_run_in_submission_order(self) -> None:
        for owner, taken in self.taken.items():
            assert taken == self.submitted[owner][: len(taken)]

    @invariant()
    def the_order_to_come_keeps_the_bound(self) -> None:
        held, plain = self.scheduler.held, [each.job_id for each in self.scheduler.fair_order()]
        batches = drained(copy.deepcopy(self.scheduler), self.batch_size)
        taken = [job_id for batch in batches for job_id in batch]
        assert taken == [each.job_id for each in self.scheduler.order()]
        batch_of = {job_id: index for index, batch in enumerate(batches) for job_id in batch}
        for job_id in taken:
            before = taken[: taken.index(job_id)]
            fair_before = plain[: plain.index(job_id)]
            extra = set(before) - set(fair_before)
            assert len({batch_of[other] for other in extra}) <= 1
            assert len(extra) <= self.batch_size
            assert swaps(held, [self.model_of[j] for j in [*before, job_id]]) <= swaps(
                held, [self.model_of[j] for j in [*fair_before, job_id]]
            )


ModelLineMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestModelLine = ModelLineMachine.TestCase


class WeightedModelLineMachine(ModelLineMachine):
    """The same traffic, each submission with a weight (its owner's turns per round from then on)."""

    @rule(
        owner=st.sampled_from("abc"), model=st.sampled_from("xy"), shape=st.sampled_from(["small", "wide"]),
        weight=st.integers(1, 3),
    )  # fmt: skip
    def submit(self, owner: str, model: str, shape: str, weight: int = 1) -> None:
        job_id = f"{owner}{next(self.ids)}"
        self.scheduler.push(dataclasses.replace(ticket(job_id, model, shape), weight=weight))
        self.submitted[owner].append(job_id)
        self.model_of[job_id] = model


WeightedModelLineMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
TestWeightedModelLine = WeightedModelLineMachine.TestCase
