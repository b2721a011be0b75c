"""The fair order of waiting jobs: round-robin across owners, each owner's jobs in submission order.

Pure and synchronous (no asyncio, no I/O, no clock), so its guarantees can be checked by property tests.

Jobs run in rounds: every owner gets at most one job per round, and an owner's jobs fill consecutive
rounds. A new owner's first job joins the current round; an owner who already started a job this round
(even one that is still running) waits for the next, so a user's second job waits behind everyone's
first. Within a round, owners go in the order they were last served (owners not served yet first, in
order of arrival), which makes it a true rotation:

* each owner's jobs run in the order they were submitted;
* while an owner has a job waiting, no other owner starts two jobs before it starts one;
* `order()` lists the waiting jobs exactly in the order the worker will take them if nothing else
  arrives (it replays the rotation the worker will follow).

Cancelling a waiting job moves its owner's later jobs up a round each. Batches are cut from the front
of the order only: a batch is the longest run of consecutive same-shape jobs at the head (a ticket
marked `alone` ends a run and forms its own), so batching never lets a job start before one that was
ahead of it. (Batching any same-shape job among the next
few would batch more when shapes are mixed, but could start a user's second job before another user's
first.)
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
    """What the scheduler knows of a job: who it is for and what it can be batched with.

    `alone` keeps the job out of every batch (the queue sets it on a job that was running when the
    worker crashed, so that a crash it causes again is not blamed on batch-mates too).
    """

    job_id: str
    owner_id: str
    shape: Hashable
    cost: float = 1.0
    alone: bool = False


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
    """One owner's waiting jobs: the head runs in round `base`, the next in `base + 1`, and so on."""

    __slots__ = ("base", "jobs", "stamp")

    def __init__(self, base: int, stamp: int) -> None:
        self.base = base
        self.stamp = stamp  # rank within a round: lower goes first; renewed each time the owner is served
        self.jobs: deque[Ticket] = deque()


class FairScheduler:
    """Waiting and running jobs with per-owner and global caps; see the module docstring for the order."""

    def __init__(self, max_waiting: int, max_per_owner: int) -> None:
        self.max_waiting = max_waiting
        self.max_per_owner = max_per_owner
        self._lines: dict[str, _OwnerLine] = {}  # owners with jobs waiting
        self._waiting: dict[str, Ticket] = {}
        self._running: dict[str, Ticket] = {}
        self._per_owner: Counter[str] = Counter()
        self._round = 0  # the round of the job started last
        self._served: dict[str, int] = {}  # owner -> round of its last start, only for this round
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

    def check_admission(self, owner_id: str) -> None:
        """Raise `UserQueueLimitError` or `QueueFullError` if a new job of `owner_id` would pass a cap."""
        held = self._per_owner[owner_id]
        if held >= self.max_per_owner:
            raise user_limit_error(held, self.max_per_owner)
        if len(self._waiting) >= self.max_waiting:
            raise queue_full_error(len(self._waiting), self.max_waiting)

    def push(self, ticket: Ticket, *, enforce_caps: bool = True) -> None:
        """Add a job behind its owner's other jobs.

        Raises the cap errors of `check_admission` unless `enforce_caps` is false, which is for jobs
        recovered after a restart: they were accepted once and are never dropped.
        """
        if ticket.job_id in self._waiting or ticket.job_id in self._running:
            raise ValueError(f"job {ticket.job_id} is already scheduled")
        if enforce_caps:
            self.check_admission(ticket.owner_id)
        line = self._lines.get(ticket.owner_id)
        if line is None:
            # Served this round already (maybe still running): wait for the next one.
            base = self._served[ticket.owner_id] + 1 if ticket.owner_id in self._served else self._round
            line = self._lines[ticket.owner_id] = _OwnerLine(base, self._next_stamp())
        line.jobs.append(ticket)
        self.version += 1
        self._waiting[ticket.job_id] = ticket
        self._per_owner[ticket.owner_id] += 1

    def remove(self, job_id: str) -> Ticket:
        """Take a waiting job out of the line (cancellation). Raises `KeyError` if it is not waiting."""
        ticket = self._waiting.pop(job_id)
        self.version += 1
        line = self._lines[ticket.owner_id]
        line.jobs.remove(ticket)
        if not line.jobs:
            del self._lines[ticket.owner_id]
        self._release(ticket.owner_id)
        return ticket

    def head(self) -> Ticket | None:
        """The job the worker takes next, or None when nothing waits."""
        if not self._lines:
            return None
        return min(self._lines.values(), key=lambda line: (line.base, line.stamp)).jobs[0]

    def pop_batch(self, max_size: int = 1) -> list[Ticket]:
        """Hand the worker the head job plus up to `max_size - 1` directly following jobs of its shape.

        A ticket marked `alone` is handed over by itself.

        The jobs move from waiting to running; they keep counting against their owners' caps until
        `finish`. Returns an empty list when nothing waits.
        """
        batch: list[Ticket] = []
        for ticket in islice(self._iter_order(), max(1, max_size)):
            if batch and (ticket.shape != batch[0].shape or ticket.alone or batch[0].alone):
                break
            batch.append(ticket)
        for ticket in batch:
            self._take_head(ticket)
        return batch

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
            order = list(self._iter_order())
            self._order = (self.version, order)
        return list(order)

    def _iter_order(self) -> Iterator[Ticket]:
        # Replays what `_take_head` will do: take the lowest (round, stamp), give the owner a new stamp.
        stamps = self._stamps
        heap = [(line.base, line.stamp, owner, 0) for owner, line in self._lines.items()]
        heapq.heapify(heap)
        while heap:
            round_, _, owner, index = heapq.heappop(heap)
            jobs = self._lines[owner].jobs
            yield jobs[index]
            if index + 1 < len(jobs):
                stamps += 1
                heapq.heappush(heap, (round_ + 1, stamps, owner, index + 1))

    def _take_head(self, ticket: Ticket) -> None:
        owner = ticket.owner_id
        line = self._lines[owner]
        if line.jobs[0] is not ticket or self.head() is not ticket:
            raise AssertionError(f"job {ticket.job_id} is not at the head of the line")
        line.jobs.popleft()
        self.version += 1
        if line.base > self._round:
            self._round = line.base
            self._served = {}
        self._served[owner] = line.base
        if line.jobs:
            line.base += 1
            line.stamp = self._next_stamp()
        else:
            del self._lines[owner]
        del self._waiting[ticket.job_id]
        self._running[ticket.job_id] = ticket

    def _next_stamp(self) -> int:
        self._stamps += 1
        return self._stamps

    def _release(self, owner_id: str) -> None:
        self._per_owner[owner_id] -= 1
        if not self._per_owner[owner_id]:
            del self._per_owner[owner_id]
