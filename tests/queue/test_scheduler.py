"""The fair line: round-robin across owners, submission order within an owner, caps, fair batches."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from generation.errors import QueueFullError, UserQueueLimitError
from generation.queue.scheduler import FairScheduler, Ticket


def ticket(job_id: str, shape: str = "s") -> Ticket:
    """A ticket whose owner is the job id's letter: "a2" is owner a's job."""
    return Ticket(job_id, owner_id=job_id[0], shape=shape)


def line(scheduler: FairScheduler) -> list[str]:
    return [t.job_id for t in scheduler.order()]


def test_second_jobs_wait_behind_everyones_first() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=5)
    for job_id in ["a1", "a2", "a3", "b1", "c1", "c2"]:
        scheduler.push(ticket(job_id))

    assert line(scheduler) == ["a1", "b1", "c1", "a2", "c2", "a3"]


def test_worker_takes_jobs_in_the_announced_order() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=5)
    for job_id in ["a1", "a2", "b1", "c1", "c2"]:
        scheduler.push(ticket(job_id))
    announced = line(scheduler)

    taken = [scheduler.pop_batch()[0].job_id for _ in announced]

    assert taken == announced


def test_owner_served_just_now_goes_behind_owners_still_waiting() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=5)
    scheduler.push(ticket("a1"))
    scheduler.push(ticket("b1"))
    scheduler.push(ticket("b2"))
    scheduler.pop_batch()  # a1 runs; a has nothing left waiting

    scheduler.push(ticket("a2"))

    assert line(scheduler) == ["b1", "a2", "b2"]


def test_a_running_job_counts_as_its_owners_turn() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=5)
    scheduler.push(ticket("a1"))
    scheduler.pop_batch()  # a1 is running
    scheduler.push(ticket("a2"))
    scheduler.push(ticket("a3"))

    scheduler.push(ticket("b1"))

    assert line(scheduler) == ["b1", "a2", "a3"]


def test_within_a_round_owners_go_in_the_order_they_were_last_served() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=5)
    for job_id in ["b1", "a1", "b2", "a2"]:
        scheduler.push(ticket(job_id))
    assert [t.job_id for t in scheduler.pop_batch()] == ["b1"]

    assert line(scheduler) == ["a1", "b2", "a2"]


def test_cancelling_a_job_moves_its_owners_later_jobs_up() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=5)
    for job_id in ["a1", "a2", "b1", "b2"]:
        scheduler.push(ticket(job_id))

    scheduler.remove("a1")

    assert line(scheduler) == ["a2", "b1", "b2"]


def test_owner_cap_counts_waiting_and_running_jobs() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=2)
    scheduler.push(ticket("a1"))
    scheduler.pop_batch()
    scheduler.push(ticket("a2"))

    with pytest.raises(UserQueueLimitError, match=r"limit: 2"):
        scheduler.push(ticket("a3"))
    scheduler.finish("a1")
    scheduler.push(ticket("a3"))


def test_global_cap_counts_waiting_jobs() -> None:
    scheduler = FairScheduler(max_waiting=2, max_per_owner=5)
    scheduler.push(ticket("a1"))
    scheduler.push(ticket("b1"))

    with pytest.raises(QueueFullError, match=r"queue is full \(2 videos waiting, limit: 2\)"):
        scheduler.push(ticket("c1"))


def test_recovered_jobs_bypass_the_caps() -> None:
    scheduler = FairScheduler(max_waiting=1, max_per_owner=1)
    scheduler.push(ticket("a1"), enforce_caps=False)
    scheduler.push(ticket("a2"), enforce_caps=False)

    assert line(scheduler) == ["a1", "a2"]


def test_batch_is_the_run_of_same_shape_jobs_at_the_head() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=5)
    for job_id, shape in [("a1", "s"), ("b1", "s"), ("c1", "t"), ("d1", "s")]:
        scheduler.push(ticket(job_id, shape))

    batches = [[t.job_id for t in scheduler.pop_batch(4)] for _ in range(3)]

    assert batches == [["a1", "b1"], ["c1"], ["d1"]]


def test_batch_is_capped_at_the_size_asked() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=5)
    for job_id in ["a1", "b1", "c1"]:
        scheduler.push(ticket(job_id))

    assert [t.job_id for t in scheduler.pop_batch(2)] == ["a1", "b1"]


def test_a_ticket_marked_alone_is_batched_with_nothing() -> None:
    scheduler = FairScheduler(max_waiting=10, max_per_owner=5)
    scheduler.push(ticket("a1"))
    scheduler.push(Ticket("b1", owner_id="b", shape="s", alone=True))
    scheduler.push(ticket("c1"))
    scheduler.push(ticket("d1"))

    batches = [[t.job_id for t in scheduler.pop_batch(4)] for _ in range(3)]

    assert batches == [["a1"], ["b1"], ["c1", "d1"]]


class FairLineMachine(RuleBasedStateMachine):
    """Random submits, cancels, batched pops and finishes by many owners, checked against a model."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduler = FairScheduler(max_waiting=12, max_per_owner=3)
        self.submitted: dict[str, list[str]] = defaultdict(list)  # owner -> job ids in submission order
        self.waiting: dict[str, Ticket] = {}
        self.running: dict[str, Ticket] = {}
        self.started: list[str] = []
        self.cancelled: list[str] = []
        # For each owner with jobs waiting: starts of other owners since it last started or began waiting.
        self.overtaken: dict[str, Counter[str]] = {}
        self.counter = 0

    def _waiting_owners(self) -> set[str]:
        return {t.owner_id for t in self.waiting.values()}

    @rule(owner=st.sampled_from("abcdef"), shape=st.sampled_from("st"))
    def submit(self, owner: str, shape: str) -> None:
        self.counter += 1
        new = Ticket(f"{owner}{self.counter}", owner, shape)
        held = sum(t.owner_id == owner for t in (*self.waiting.values(), *self.running.values()))
        try:
            self.scheduler.push(new)
        except UserQueueLimitError:
            assert held >= 3
            return
        except QueueFullError:
            assert len(self.waiting) >= 12
            return
        assert held < 3
        assert len(self.waiting) < 12
        if owner not in self._waiting_owners():
            self.overtaken[owner] = Counter()
        self.submitted[owner].append(new.job_id)
        self.waiting[new.job_id] = new

    @precondition(lambda self: self.waiting)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.waiting)))
        removed = self.scheduler.remove(job_id)
        assert removed is self.waiting.pop(job_id)
        self.cancelled.append(job_id)
        if removed.owner_id not in self._waiting_owners():
            del self.overtaken[removed.owner_id]

    @rule(max_size=st.integers(1, 3))
    def pop(self, max_size: int) -> None:
        promised = self.scheduler.order()
        batch = self.scheduler.pop_batch(max_size)
        assert batch == promised[: len(batch)], "the worker must take jobs in the announced order"
        if not promised:
            return
        assert 1 <= len(batch) <= max_size
        assert {t.shape for t in batch} == {promised[0].shape}
        if len(batch) < max_size and len(promised) > len(batch):
            assert promised[len(batch)].shape != promised[0].shape, "the batch stopped short"
        for started in batch:
            owner = started.owner_id
            for other, counts in self.overtaken.items():
                if other != owner:
                    counts[owner] += 1
                    assert counts[owner] <= 1, f"{owner} started twice while {other} waited"
            del self.waiting[started.job_id]
            self.running[started.job_id] = started
            self.started.append(started.job_id)
            if owner in self._waiting_owners():
                self.overtaken[owner] = Counter()
            else:
                del self.overtaken[owner]

    @precondition(lambda self: self.running)
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.running)))
        assert self.scheduler.finish(job_id) is self.running.pop(job_id)

    @invariant()
    def no_job_is_lost_or_duplicated(self) -> None:
        order = [t.job_id for t in self.scheduler.order()]
        accepted = [job_id for jobs in self.submitted.values() for job_id in jobs]
        assert sorted(self.started + self.cancelled + order) == sorted(accepted)
        assert sorted(order) == sorted(self.waiting)

    @invariant()
    def each_owners_jobs_keep_their_order(self) -> None:
        started_or_waiting = self.started + [t.job_id for t in self.scheduler.order()]
        for jobs in self.submitted.values():
            kept = [j for j in jobs if j not in self.cancelled]
            assert [j for j in started_or_waiting if j in jobs] == kept

    @invariant()
    def no_kth_plus_one_job_ahead_of_anothers_kth(self) -> None:
        seen: Counter[str] = Counter()
        ranks = []
        for t in self.scheduler.order():
            ranks.append(seen[t.owner_id])
            seen[t.owner_id] += 1
        assert ranks == sorted(ranks)

    @invariant()
    def caps_hold(self) -> None:
        assert self.scheduler.waiting_count <= 12
        held = Counter(t.owner_id for t in (*self.waiting.values(), *self.running.values()))
        assert max(held.values(), default=0) <= 3


FairLineMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
test_fair_line_under_any_interleaving = FairLineMachine.TestCase
