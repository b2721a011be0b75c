"""Weights in the fair line: an owner of weight w takes w turns a round, and every waiting owner still
gets a turn every round."""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from generation.errors import QueueFullError, UserQueueLimitError
from generation.queue.scheduler import FairScheduler, Ticket

OWNERS = "abcdef"


def ticket(job_id: str, weight: int = 1, shape: str = "s") -> Ticket:
    """A ticket whose owner is the job id's letter: "a2" is owner a's job."""
    return Ticket(job_id, owner_id=job_id[0], shape=shape, weight=weight)


def line(scheduler: FairScheduler) -> list[str]:
    return [t.job_id for t in scheduler.order()]


def filled(jobs: list[tuple[str, int]]) -> FairScheduler:
    scheduler = FairScheduler(max_waiting=100, max_per_owner=100)
    for job_id, weight in jobs:
        scheduler.push(ticket(job_id, weight))
    return scheduler


def test_an_owner_of_weight_two_takes_two_turns_each_round() -> None:
    scheduler = filled([("a1", 2), ("a2", 2), ("a3", 2), ("a4", 2), ("b1", 1), ("b2", 1), ("c1", 1)])

    assert line(scheduler) == ["a1", "a2", "b1", "c1", "a3", "a4", "b2"]


def test_the_worker_takes_a_weighted_line_in_the_announced_order() -> None:
    scheduler = filled([("a1", 3), ("a2", 3), ("a3", 3), ("a4", 3), ("b1", 1), ("b2", 1), ("c1", 2), ("c2", 2)])
    announced = line(scheduler)

    taken = [scheduler.pop_batch()[0].job_id for _ in announced]

    assert taken == announced == ["a1", "a2", "a3", "b1", "c1", "c2", "a4", "b2"]


def test_weight_one_everywhere_is_the_plain_round_robin() -> None:
    scheduler = filled([("a1", 1), ("a2", 1), ("a3", 1), ("b1", 1), ("c1", 1), ("c2", 1)])

    assert line(scheduler) == ["a1", "b1", "c1", "a2", "c2", "a3"]


def test_the_latest_submissions_weight_counts_for_the_owners_whole_line() -> None:
    scheduler = filled([("a1", 1), ("a2", 1), ("a3", 1), ("b1", 1), ("b2", 1), ("b3", 1)])

    scheduler.push(ticket("a4", weight=2))

    assert line(scheduler) == ["a1", "a2", "b1", "a3", "a4", "b2", "b3"]


def test_cancelling_the_latest_submission_gives_the_line_the_weight_before() -> None:
    scheduler = filled([("a1", 1), ("a2", 1), ("a3", 2), ("b1", 1), ("b2", 1)])

    scheduler.remove("a3")

    assert line(scheduler) == ["a1", "b1", "a2", "b2"]


def test_an_owner_with_a_turn_left_keeps_it_after_its_line_emptied() -> None:
    scheduler = filled([("a1", 2), ("b1", 1), ("b2", 1)])
    assert [t.job_id for t in scheduler.pop_batch()] == ["a1"]
    assert [t.job_id for t in scheduler.pop_batch()] == ["b1"]  # b's next turn is in the next round

    scheduler.push(ticket("a2", weight=2))

    assert line(scheduler) == ["a2", "b2"]


def test_an_owner_whose_weight_dropped_keeps_the_turn_it_waits_for() -> None:
    scheduler = filled([("a1", 2), ("a2", 2), ("a3", 2), ("b1", 1), ("b2", 1)])
    assert [t.job_id for t in scheduler.pop_batch()] == ["a1"]

    scheduler.push(ticket("a4", weight=1))

    assert line(scheduler) == ["a2", "b1", "a3", "b2", "a4"]


def test_an_owners_consecutive_turns_share_a_batch() -> None:
    scheduler = filled([("a1", 2), ("a2", 2), ("b1", 1)])

    assert [t.job_id for t in scheduler.pop_batch(4)] == ["a1", "a2", "b1"]


@settings(max_examples=200, deadline=None)
@given(
    jobs=st.lists(st.tuples(st.sampled_from(OWNERS), st.integers(1, 3)), max_size=30),
)
def test_a_fresh_line_is_rounds_where_each_owner_takes_its_weight_in_turns(jobs: list[tuple[str, int]]) -> None:
    scheduler = FairScheduler(max_waiting=100, max_per_owner=100)
    submitted: dict[str, list[str]] = defaultdict(list)  # in order of arrival
    weight: dict[str, int] = {}
    for n, (owner, w) in enumerate(jobs):
        scheduler.push(Ticket(f"{owner}{n}", owner, "s", weight=w))
        submitted[owner].append(f"{owner}{n}")
        weight[owner] = w  # the latest submission's

    rounds: list[str] = []
    while any(submitted.values()):
        for owner, left in submitted.items():
            rounds += left[: weight[owner]]
            del left[: weight[owner]]

    assert line(scheduler) == rounds


class WeightedLineMachine(RuleBasedStateMachine):
    """Random submits with weights, cancels, batched pops and finishes, checked against a model.

    Each owner's weights are drawn up to a cap of its own, so that a bound on its turns is known ahead.
    """

    MAX_WAITING = 14
    MAX_PER_OWNER = 4

    def __init__(self) -> None:
        super().__init__()
        self.scheduler = FairScheduler(max_waiting=self.MAX_WAITING, max_per_owner=self.MAX_PER_OWNER)
        self.caps: dict[str, int] = {}
        self.submitted: dict[str, list[str]] = defaultdict(list)  # owner -> job ids in submission order
        self.waiting: dict[str, Ticket] = {}  # in submission order
        self.running: dict[str, Ticket] = {}
        self.started: list[str] = []
        self.cancelled: list[str] = []
        self.starts: Counter[str] = Counter()  # jobs started, by owner
        # For each owner with jobs waiting: starts of other owners since it last started or began waiting,
        # and the most turns a round each of them could have had meanwhile (its highest weight).
        self.overtaken: dict[str, Counter[str]] = {}
        self.peaks: dict[str, Counter[str]] = {}
        # For each waiting job: the most jobs of other owners that may start before it (see `tighten`).
        self.budget: dict[str, int] = {}
        self.counter = 0

    @initialize(caps=st.lists(st.integers(1, 3), min_size=len(OWNERS), max_size=len(OWNERS)))
    def draw_caps(self, caps: list[int]) -> None:
        self.caps = dict(zip(OWNERS, caps, strict=True))

    def _weight(self, owner: str) -> int:
        """The owner's weight now: its latest waiting job's."""
        return [t.weight for t in self.waiting.values() if t.owner_id == owner][-1]

    def _waiting_owners(self) -> set[str]:
        return {t.owner_id for t in self.waiting.values()}

    def _watch(self, owner: str) -> None:
        self.overtaken[owner], self.peaks[owner] = Counter(), Counter()
        self._mark_peaks()

    def _mark_peaks(self) -> None:
        for other, peaks in self.peaks.items():
            for owner in self._waiting_owners() - {other}:
                peaks[owner] = max(peaks[owner], self._weight(owner))

    def tighten(self) -> None:
        """A job i-th in its owner's line runs at the latest i + 1 rounds after the current one, and in each
        round every other owner starts at most its weight: the most that may start before it from now."""
        index: Counter[str] = Counter()
        for job_id, t in self.waiting.items():
            others = self.starts.total() - self.starts[t.owner_id]
            rounds = index[t.owner_id] + 2
            bound = others + rounds * sum(cap for owner, cap in self.caps.items() if owner != t.owner_id)
            self.budget[job_id] = min(self.budget.get(job_id, bound), bound)
            index[t.owner_id] += 1

    @rule(data=st.data(), owner=st.sampled_from(OWNERS), shape=st.sampled_from("st"))
    def submit(self, data: st.DataObject, owner: str, shape: str) -> None:
        weight = data.draw(st.integers(1, self.caps[owner]), label="weight")
        self.counter += 1
        new = Ticket(f"{owner}{self.counter}", owner, shape, weight=weight)
        try:
            self.scheduler.push(new)
        except (UserQueueLimitError, QueueFullError):
            held = sum(t.owner_id == owner for t in (*self.waiting.values(), *self.running.values()))
            assert held >= self.MAX_PER_OWNER or len(self.waiting) >= self.MAX_WAITING
            return
        if owner not in self._waiting_owners():
            self._watch(owner)
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
            del self.overtaken[removed.owner_id], self.peaks[removed.owner_id]

    @rule(max_size=st.integers(1, 3))
    def pop(self, max_size: int) -> None:
        self.tighten()
        self._mark_peaks()
        promised = self.scheduler.order()
        batch = self.scheduler.pop_batch(max_size)
        assert batch == promised[: len(batch)], "the worker must take jobs in the announced order"
        for started in batch:
            owner = started.owner_id
            others = self.starts.total() - self.starts[owner]
            assert others <= self.budget.pop(started.job_id), f"{started.job_id} waited too long"
            self.starts[owner] += 1
            for other, counts in self.overtaken.items():
                if other != owner:
                    counts[owner] += 1
                    assert counts[owner] <= self.peaks[other][owner], f"{owner} overtook {other} beyond its weight"
            del self.waiting[started.job_id]
            self.running[started.job_id] = started
            self.started.append(started.job_id)
            if owner in self._waiting_owners():
                self._watch(owner)
            else:
                del self.overtaken[owner], self.peaks[owner]

    @precondition(lambda self: self.running)
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.running)))
        assert self.scheduler.finish(job_id) is self.running.pop(job_id)

    @invariant()
    def no_job_is_lost_or_duplicated(self) -> None:
        order = line(self.scheduler)
        accepted = [job_id for jobs in self.submitted.values() for job_id in jobs]
        assert sorted(self.started + self.cancelled + order) == sorted(accepted)
        assert sorted(order) == sorted(self.waiting)

    @invariant()
    def each_owners_jobs_keep_their_order(self) -> None:
        started_or_waiting = self.started + line(self.scheduler)
        for jobs in self.submitted.values():
            kept = [j for j in jobs if j not in self.cancelled]
            assert [j for j in started_or_waiting if j in jobs] == kept

    @invariant()
    def between_two_turns_of_an_owner_no_other_takes_more_than_its_weight(self) -> None:
        order = self.scheduler.order()
        for owner in self._waiting_owners():
            turns = [place for place, t in enumerate(order) if t.owner_id == owner]
            for start, end in pairwise(turns):
                between = Counter(t.owner_id for t in order[start + 1 : end])
                assert all(n <= self._weight(other) for other, n in between.items()), (owner, between)


WeightedLineMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
test_weighted_line_under_any_interleaving = WeightedLineMachine.TestCase
