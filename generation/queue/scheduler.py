"""The fair order of waiting jobs: weighted round-robin across owners, each owner's jobs in submission order.

Pure and synchronous (no asyncio, no I/O, no clock), so its guarantees can be checked by property tests.

Jobs run in rounds. An owner of weight w (`Ticket.weight`, 1 to 10: a role perk) has w turns in each
round, taken one after another at its place in the round; an owner's jobs fill its turns in order, so
its jobs take consecutive turns across rounds. A new owner's first job joins the current round; an
owner who already started w jobs this round (even ones still running) waits for the next, one who
started fewer keeps the turns left. Within a round, owners go in the order they were last served
(owners not served yet first, in order of arrival), which makes it a true rotation:

* each owner's jobs run in the order they were submitted;
* while an owner has a job waiting, no other owner of weight w starts more than w jobs before it
  starts one (w: the highest weight it had meanwhile; with weight 1 everywhere, no other owner starts
  two), so every waiting owner gets a turn every round;
* no starvation: a job i-th in its owner's line (from 0) runs at the latest i + 1 rounds after the
  current one, so at most (i + 2) times the sum of the other owners' weights start before it;
* `order()` lists the waiting jobs exactly in the order the worker will take them if nothing else
  arrives (it replays the rotation the worker will follow).

An owner's weight is the weight of its latest waiting job (the one submitted last), for all its
waiting jobs: a perk granted now counts for its whole line from its next submission, and cancelling
that job gives the line the weight of the one before. Turns already started this round stay counted,
and a weight changes nobody's place in the round: an owner whose weight drops to no more than the turns
it had this round still takes the turn it waits for, then goes on in the next round (a lowered weight
counts from the owner's next round). With every weight 1 this is the plain round-robin.

Cancelling a waiting job moves its owner's later jobs up a turn each. Batches are cut from the front
of the order only: a batch is the longest run of consecutive same-shape jobs at the head (a ticket
marked `alone` ends a run and forms its own), so batching never lets a job start before one that was
ahead of it; an owner's consecutive turns may share a batch. (Batching any same-shape job among the
next few would batch more when shapes are mixed, but could start a user's second job before another
user's first.)

Several models, one GPU. A ticket may name the model it needs, and the scheduler knows the model the GPU
`held` (the model of the batch taken last). When the fair order's head needs another model, running it
costs a swap (unload, load). Instead, the first job in the fair order that needs the held model, and
whose owner has no job ahead of it, runs first, with the same-shape jobs that directly follow it and
whose owners have none ahead either (one batch, one pipeline call): it *passes* the jobs ahead of it.
Unless one of those was passed before: a job is passed at most once in its whole wait, so then the head
runs (and the GPU swaps). A passing job uses one of its owner's turns as its fair turn would have. The
owner's next job keeps its place in the round when the owner has turns left there (it comes after the
jobs passed, which were ahead of the passing job); otherwise it takes its place in the next round only
once the jobs passed have left, as if the owner had been served in its fair turn, so passing reorders
nobody else. The rotation's "no other owner starts more than w jobs before it starts one" holds up to
that one batch.

The bound, against the plain fair order (`fair_order()`) at any moment, if nothing else arrives:

* the jobs that start before a job are those ahead of it in the plain fair order plus at most one batch
  (`max_size` jobs or fewer, for the model the GPU already holds), taken in one `pop_batch`;
* no more model swaps happen before it starts than the plain fair order puts before it (a passing batch
  runs on the model already loaded, and taking a job out of a run never splits one);

so no job waits more than one batch's run beyond its plain fair turn, and each owner's jobs still run
in submission order. `order()` replays the rule, so positions stay exact. Batches never mix models.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from itertools import islice

from generation.errors import QueueFullError, UserQueueLimitError


@dataclass(frozen=True)
class Ticket:
    """What the scheduler knows of a job: who it is for, the model it needs and what it can be batched with.

    `alone` keeps the job out of every batch (the queue sets it on a job that was running when the
    worker crashed, so that a crash it causes again is not blamed on batch-mates too).
    """

    job_id: str
    owner_id: str
    shape: Hashable
    cost: float = 1.0
    alone: bool = False
    model: str | None = None
    """The model the job needs; None runs on whichever the GPU holds."""
    weight: int = 1
    """Its owner's turns per round, from this submission on (see the module docstring)."""


def user_limit_error(held: int, limit: int) -> UserQueueLimitError:
    """The refusal of a job whose owner already holds `held` jobs, `limit` being the most allowed."""
    return UserQueueLimitError(
        f"you already have {held} videos waiting or in progress, the most one person may have "
        f"(limit: {limit}); wait for one to finish or cancel one"
    )


def queue_full_error(waiting: int, limit: int) -> QueueFullError:
    """The refusal of a job when `waiting` jobs wait already, `limit` being the most allowed."""
    return QueueFullError(f"the queue is full ({waiting} videos waiting, limit: {limit}); try again in a few minutes")


class _OwnerLine:
    """One owner's waiting jobs. They fill its turns from round `base` on, `weight` turns a round, of
    which `used` were started already: job i takes turn `used + i`, in round `base + (used + i) // weight`.
    """

    __slots__ = ("base", "jobs", "stamp", "turns")

    def __init__(self, base: int, stamp: int, turns: int = 0) -> None:
        self.base = base
        self.stamp = stamp  # rank within a round: lower goes first; renewed each time the owner is served
        self.turns = turns  # jobs the owner started in round `base`
        self.jobs: deque[Ticket] = deque()

    @property
    def weight(self) -> int:
        """Turns per round: the weight of the owner's latest waiting job."""
        return self.jobs[-1].weight

    @property
    def used(self) -> int:
        """The turns of round `base` gone: all but the head's, if the weight dropped below those started."""
        return min(self.turns, self.weight - 1)

    @property
    def end(self) -> tuple[int, bool]:
        """The round of its last job, and whether that is later than `base` (then, in that round, it
        goes after the owners whose line starts there)."""
        end = self.base + (self.used + len(self.jobs) - 1) // self.weight
        return end, end > self.base

    @classmethod
    def copy_of(cls, line: _OwnerLine) -> _OwnerLine:
        """Another line with the same place and jobs."""
        copy = cls(line.base, line.stamp, line.turns)
        copy.jobs = deque(line.jobs)
        return copy


class FairScheduler:
    """Waiting and running jobs with per-owner and global caps; see the module docstring for the order."""

    def __init__(self, max_waiting: int, max_per_owner: int, *, batch_size: int = 1) -> None:
        """`batch_size`: the most jobs a batch takes, as `order()` foresees it (`pop_batch` gets its own)."""
        self.max_waiting = max_waiting
        self.max_per_owner = max_per_owner
        self.batch_size = batch_size
        self.held: str | None = None  # the model of the batch taken last: the one the GPU holds
        self._passed: set[str] = set()  # waiting jobs a batch of the held model has passed once
        # Owners whose job passed others: their place in the next round is taken once those have run, as
        # if served in their fair turn, so passing moves no one else (owner -> the passed jobs left).
        self._after: dict[str, set[str]] = {}
        self._lines: dict[str, _OwnerLine] = {}  # owners with jobs waiting
        # How many lines end in each round (see `_OwnerLine.end`), so `ends_order` need not walk them.
        self._ends: Counter[tuple[int, bool]] = Counter()
        self._models: Counter[str] = Counter()  # waiting jobs per model named
        self._waiting: dict[str, Ticket] = {}
        self._running: dict[str, Ticket] = {}
        self._per_owner: Counter[str] = Counter()
        self._round = 0  # the round of the job started last
        # owner -> (round of its last start, turns it started in that round), only for this round
        self._served: dict[str, tuple[int, int]] = {}
        self._stamps = 0
        self.version = 0  # changes whenever the set or order of waiting jobs may have changed
        self._order: tuple[int, list[Ticket]] = (-1, [])  # `order()` as of a version

    @property
    def waiting_count(self) -> int:
        """Jobs waiting to run."""
        return len(self._waiting)

    def is_waiting(self, job_id: str) -> bool:
        """True while the job waits for the worker."""
        return job_id in self._waiting

    def check_admission(self, owner_id: str, max_held: int | None = None) -> None:
        """Raise `UserQueueLimitError` or `QueueFullError` if a new job of `owner_id` would pass a cap
        (`max_held`, when given, in place of the per-owner cap: the owner's allowance)."""
        held = self._per_owner[owner_id]
        limit = self.max_per_owner if max_held is None else max_held
        if held >= limit:
            raise user_limit_error(held, limit)
        if len(self._waiting) >= self.max_waiting:
            raise queue_full_error(len(self._waiting), self.max_waiting)

    def push(self, ticket: Ticket, *, enforce_caps: bool = True, max_held: int | None = None) -> None:
        """Add a job behind its owner's other jobs.

        Raises the cap errors of `check_admission` (with `max_held`) unless `enforce_caps` is false, which is for jobs
        recovered after a restart: they were accepted once and are never dropped.
        """
        if ticket.job_id in self._waiting or ticket.job_id in self._running:
            raise ValueError(f"job {ticket.job_id} is already scheduled")
        if enforce_caps:
            self.check_admission(ticket.owner_id, max_held)
        line = self._lines.get(ticket.owner_id)
        if line is None:
            line = self._open_line(ticket)
        else:
            self._unend(line)
        line.jobs.append(ticket)
        self._ends[line.end] += 1
        self.version += 1
        self._waiting[ticket.job_id] = ticket
        if ticket.model is not None:
            self._models[ticket.model] += 1
        self._per_owner[ticket.owner_id] += 1

    def hold(self, model: str | None) -> None:
        """The GPU holds `model` now (as it starts, before any batch was taken)."""
        self.held = model
        self.version += 1

    def remove(self, job_id: str) -> Ticket:
        """Take a waiting job out of the line (cancellation). Raises `KeyError` if it is not waiting."""
        ticket = self._waiting.pop(job_id)
        self._passed.discard(job_id)
        self.version += 1
        self._unmodel(ticket)
        line = self._lines[ticket.owner_id]
        self._unend(line)
        line.jobs.remove(ticket)
        if line.jobs:
            self._ends[line.end] += 1
        else:
            del self._lines[ticket.owner_id]
            self._after.pop(ticket.owner_id, None)
        self._gone(job_id)
        self._release(ticket.owner_id)
        return ticket

    def ends_order(self, job_id: str) -> bool:
        """True when the waiting job `job_id`, its owner's only one and pushed last, is last in `order()`;
        False also where telling would take a walk of the line (several models, jobs passed).

        That job's line opened with the newest stamp, so in its round it follows every owner whose line
        starts there, and precedes only the owners that reach that round from an earlier one.
        """
        ticket = self._waiting.get(job_id)
        if ticket is None or self._after or self._mixed():
            return False
        line = self._lines[ticket.owner_id]
        if len(line.jobs) != 1 or line.stamp != self._stamps:
            return False
        own = line.end[0]
        return all(end < own or (end == own and not later) for end, later in self._ends)

    def head(self) -> Ticket | None:
        """The job the worker takes next, or None when nothing waits."""
        if not self._lines:
            return None
        if self._mixed():
            return self.order()[0]
        return min(self._lines.values(), key=lambda line: (line.base, line.stamp)).jobs[0]

    def pop_batch(self, max_size: int = 1) -> list[Ticket]:
        """Hand the worker the next batch: the head job plus up to `max_size - 1` directly following jobs
        of its shape, or a batch of the held model that passes the head (see the module docstring).

        A ticket marked `alone` is handed over by itself.

        The jobs move from waiting to running; they keep counting against their owners' caps until
        `finish`. Returns an empty list when nothing waits.
        """
        size = max(1, max_size)
        # One model waiting (always so without models): nothing passes, and the head's run is all it takes.
        order = list(self._iter_order()) if self._mixed() else list(islice(self._iter_order(), size))
        if not order:
            return []
        batch, passed = _next_batch(order, self.held, self._passed, size)
        passed_ids = {ticket.job_id for ticket in passed}
        for ticket in batch:
            self._take(ticket, after=passed_ids)
        self._passed |= passed_ids
        self.held = batch[0].model or self.held
        return batch

    def fair_order(self) -> list[Ticket]:
        """Every waiting job in the plain fair order: rounds of owners, before any batch passes another."""
        return list(self._iter_order())

    def finish(self, job_id: str) -> Ticket:
        """Forget a running job (it ended in any way). Raises `KeyError` if it is not running."""
        ticket = self._running.pop(job_id)
        self._release(ticket.owner_id)
        return ticket

    def order(self) -> list[Ticket]:
        """Every waiting job, in the order the worker will take them."""
        # Asked after every submission (positions, ETAs) and again for the snapshot: in a burst the
        # line is long and unchanged in between, so replaying it each time made admission quadratic.
        version, order = self._order
        if version != self.version:
            order = self._replay() if self._mixed() else list(self._iter_order())
            self._order = (self.version, order)
        return list(order)

    def _mixed(self) -> bool:
        """True when jobs for more than one model wait: only then may a batch pass the head."""
        return len(self._models) > 1

    def _unend(self, line: _OwnerLine) -> None:
        """Take a line out of `_ends` (before its jobs or place change; `_ends[line.end] += 1` after)."""
        end = line.end
        self._ends[end] -= 1
        if not self._ends[end]:
            del self._ends[end]

    def _unmodel(self, ticket: Ticket) -> None:
        """Count a job that leaves the line out of its model's."""
        if ticket.model is not None:
            self._models[ticket.model] -= 1
            if not self._models[ticket.model]:
                del self._models[ticket.model]

    def _replay(self) -> list[Ticket]:
        """The order the worker will take the waiting jobs in, by taking them all from a copy of this line."""
        # Quadratic in the jobs waiting, and only while several models wait: 9 ms for 100 on a busy CPU.
        copy = FairScheduler(self.max_waiting, self.max_per_owner, batch_size=self.batch_size)
        copy._lines = {owner: _OwnerLine.copy_of(line) for owner, line in self._lines.items()}
        copy._waiting = dict(self._waiting)
        copy._round, copy._served, copy._stamps = self._round, dict(self._served), self._stamps
        copy.held, copy._passed = self.held, set(self._passed)
        copy._after = {owner: set(jobs) for owner, jobs in self._after.items()}
        copy._ends, copy._models = Counter(self._ends), Counter(self._models)
        order: list[Ticket] = []
        while batch := copy.pop_batch(self.batch_size):
            order += batch
        return order

    def _iter_order(self) -> Iterator[Ticket]:
        # Replays what `_take` does to the head: take the lowest (round, stamp); an owner with turns left in
        # the round goes on, one out of them gets the next round and a new stamp. An owner placed after
        # passed jobs joins once the last of them is yielded.
        stamps = self._stamps
        after = {owner: set(jobs) for owner, jobs in self._after.items()}
        heap = [(line.base, line.stamp, owner, 0) for owner, line in self._lines.items() if owner not in after]
        heapq.heapify(heap)
        while heap:
            round_, stamp, owner, index = heapq.heappop(heap)
            line = self._lines[owner]
            yield line.jobs[index]
            if index + 1 < len(line.jobs):
                if (line.used + index + 1) % line.weight:
                    heapq.heappush(heap, (round_, stamp, owner, index + 1))
                else:
                    stamps += 1
                    heapq.heappush(heap, (round_ + 1, stamps, owner, index + 1))
            for waiter, left in list(after.items()):
                left.discard(line.jobs[index].job_id)
                if not left:
                    del after[waiter]
                    stamps += 1
                    heapq.heappush(heap, (self._lines[waiter].base, stamps, waiter, 0))

    def _take(self, ticket: Ticket, *, after: set[str]) -> None:
        """Move an owner's first waiting job to running. Its owner's next job takes the next turn: in this
        round while turns are left, else in the next round, now or once the jobs `after` (passed by this
        one) have left the line."""
        owner = ticket.owner_id
        line = self._lines[owner]
        if line.jobs[0] is not ticket:
            raise AssertionError(f"job {ticket.job_id} is not at the head of its owner's line")
        weight, turns = line.weight, line.used + 1
        self._unend(line)
        line.jobs.popleft()
        self._passed.discard(ticket.job_id)
        self.version += 1
        if line.base > self._round:
            self._round = line.base
            self._served = {}
        self._served[owner] = (line.base, turns)
        if line.jobs:
            line.turns = turns
            if turns >= weight:
                line.base, line.turns = line.base + 1, 0
                if after:
                    self._after[owner] = set(after)
                else:
                    line.stamp = self._next_stamp()
            self._ends[line.end] += 1
        else:
            del self._lines[owner]
            self._after.pop(owner, None)
        self._unmodel(ticket)
        del self._waiting[ticket.job_id]
        self._running[ticket.job_id] = ticket
        self._gone(ticket.job_id)

    def _open_line(self, ticket: Ticket) -> _OwnerLine:
        """A line for an owner with nothing waiting: in this round, with the turns it has not started in
        it (all of them if it started none: a new owner joins the current round), else in the next."""
        line = _OwnerLine(self._round, self._next_stamp())
        served = self._served.get(ticket.owner_id)
        if served is not None:
            round_, turns = served
            line.base, line.turns = (round_, turns) if turns < ticket.weight else (round_ + 1, 0)
        self._lines[ticket.owner_id] = line
        return line

    def _gone(self, job_id: str) -> None:
        """A job left the line: an owner placed after the jobs it passed takes its place once all have left."""
        for owner, left in list(self._after.items()):
            left.discard(job_id)
            if not left:
                del self._after[owner]
                self._lines[owner].stamp = self._next_stamp()

    def _next_stamp(self) -> int:
        self._stamps += 1
        return self._stamps

    def _release(self, owner_id: str) -> None:
        self._per_owner[owner_id] -= 1
        if not self._per_owner[owner_id]:
            del self._per_owner[owner_id]


def _next_batch(
    order: list[Ticket], held: str | None, passed: set[str], size: int
) -> tuple[list[Ticket], list[Ticket]]:
    """The batch to take from the fair `order` while the GPU holds `held`, and the jobs it passes."""
    start = _passing_start(order, held, passed)
    ahead = {ticket.owner_id for ticket in order[:start]}
    batch = [order[start]]
    for ticket in order[start + 1 :]:
        first = batch[0]
        if len(batch) >= size or ticket.alone or first.alone or ticket.owner_id in ahead:
            break
        if ticket.shape != first.shape or ticket.model != first.model:
            break
        batch.append(ticket)
    return batch, order[:start]


def _passing_start(order: list[Ticket], held: str | None, passed: set[str]) -> int:
    """Where the next batch starts: the head, unless the head needs a swap and a job for the held model
    may pass the jobs ahead of it (none of them passed before, none of them its owner's)."""
    head = order[0]
    if held is None or head.model is None or head.model == held:
        return 0
    owners: set[str] = set()
    for index, ticket in enumerate(order):
        if ticket.model == held and ticket.owner_id not in owners:
            return index
        if ticket.job_id in passed:
            return 0
        owners.add(ticket.owner_id)
    return 0
