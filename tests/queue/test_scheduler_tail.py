"""`FairScheduler.ends_order`: telling, without a walk of the line, that a job just pushed is the last
in `order()`, which lets the queue announce a new member's place without replaying the line."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from generation.errors import QueueFullError, UserQueueLimitError
from generation.queue.scheduler import FairScheduler, Ticket


def test_a_new_owners_job_after_a_line_of_first_jobs_is_last() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=3)
    for job_id in ("a1", "b1", "c1"):
        scheduler.push(Ticket(job_id, job_id[0], "s"))
        assert scheduler.ends_order(job_id)
    assert [t.job_id for t in scheduler.order()][-1] == "c1"


def test_a_new_owners_job_goes_before_the_second_jobs_of_others() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=3)
    for job_id in ("a1", "a2", "b1"):
        scheduler.push(Ticket(job_id, job_id[0], "s"))
    assert not scheduler.ends_order("b1")
    assert [t.job_id for t in scheduler.order()] == ["a1", "b1", "a2"]


def test_an_owners_second_job_is_never_told_last() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=3)
    for job_id in ("a1", "a2"):
        scheduler.push(Ticket(job_id, job_id[0], "s"))
    assert [t.job_id for t in scheduler.order()][-1] == "a2"
    assert not scheduler.ends_order("a2")  # only an owner's only job is told cheaply


class TailMachine(RuleBasedStateMachine):
    """Random weighted submits (for one or two models), cancels and batched takes: whenever the scheduler
    says a job just pushed ends the order, it does; and with one model it says so whenever it does."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduler = FairScheduler(max_waiting=12, max_per_owner=4, batch_size=2)
        self.counter = 0

    @rule(
        owner=st.sampled_from("abcdef"),
        weight=st.integers(1, 3),
        shape=st.sampled_from("st"),
        model=st.sampled_from(["x", "x", "y"]),
    )
    def submit(self, owner: str, weight: int, shape: str, model: str) -> None:
        self.counter += 1
        ticket = Ticket(f"{owner}{self.counter}", owner, shape, weight=weight, model=model)
        only = all(t.owner_id != owner for t in self.scheduler.order())
        try:
            self.scheduler.push(ticket)
        except (UserQueueLimitError, QueueFullError):
            return
        order = self.scheduler.order()
        last = order[-1] is ticket
        told = self.scheduler.ends_order(ticket.job_id)
        assert last or not told
        if only and len({t.model for t in order}) == 1:
            assert told == last

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        waiting = [t.job_id for t in self.scheduler.order()]
        if waiting:
            self.scheduler.remove(data.draw(st.sampled_from(waiting)))

    @rule(size=st.integers(1, 2))
    def take(self, size: int) -> None:
        for ticket in self.scheduler.pop_batch(size):
            self.scheduler.finish(ticket.job_id)


TailMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)
test_ends_order_under_any_interleaving = TailMachine.TestCase
