"""The fair order of waiting jobs: round-robin across owners, each owner's jobs in submission order.

Pure and synchronous (no asyncio, no I/O, no clock), so its guarantees can be checked by property tests.

Owners with waiting jobs form a ring. The worker takes the first waiting job of the owner at the front
of the ring, and that owner moves to the back if it still has jobs waiting; an owner with nothing left
leaves the ring and joins at the back when it submits again. Hence:

* each owner's jobs run in the order they were submitted;
* while an owner has a job waiting, no other owner starts two jobs before it starts one, so a user's
  second job waits behind everyone's first;
* `order()` lists the waiting jobs exactly in the order the worker will take them, if nothing else
  arrives: round k holds the k-th waiting job of every owner, owners in ring order.

Batches are cut from the front of that order only: a batch is the longest run of consecutive same-shape
jobs at the head, so batching never lets a job start before one that was ahead of it. (Batching any
same-shape job among the next few would batch more when shapes are mixed, but could start a user's
second job before another user's first.)
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from itertools import islice

from generation.errors import QueueFullError, UserQueueLimitError


@dataclass(frozen=True)
class Ticket:
    """What the scheduler knows of a job: who it is for and what it can be batched with."""

    job_id: str
    owner_id: str
    shape: Hashable
    cost: float = 1.0


class FairScheduler:
    """Waiting and running jobs with per-owner and global caps; see the module docstring for the order."""

    def __init__(self, max_waiting: int, max_per_owner: int) -> None:
        self.max_waiting = max_waiting
        self.max_per_owner = max_per_owner
        # Insertion order of this dict is the ring: the front owner runs next.
        self._ring: dict[str, deque[Ticket]] = {}
        self._waiting: dict[str, Ticket] = {}
        self._running: dict[str, Ticket] = {}
        self._per_owner: Counter[str] = Counter()

    @property
    def waiting_count(self) -> int:
        """Jobs waiting to run."""
        return len(self._waiting)

    @property
    def running_count(self) -> int:
        """Jobs taken by the worker and not finished yet."""
        return len(self._running)

    def owner_count(self, owner_id: str) -> int:
        """Jobs of `owner_id` waiting or running (what the per-owner cap counts)."""
        return self._per_owner[owner_id]

    def is_waiting(self, job_id: str) -> bool:
        """True while the job waits for the worker."""
        return job_id in self._waiting

    def check_admission(self, owner_id: str) -> None:
        """Raise `UserQueueLimitError` or `QueueFullError` if a new job of `owner_id` would pass a cap."""
        held = self._per_owner[owner_id]
        if held >= self.max_per_owner:
            raise UserQueueLimitError(
                f"you already have {held} videos waiting or in progress, the most one person may have "
                f"(limit: {self.max_per_owner}); wait for one to finish or cancel one"
            )
        if len(self._waiting) >= self.max_waiting:
            raise QueueFullError(
                f"the queue is full ({len(self._waiting)} videos waiting, limit: {self.max_waiting}); "
                "try again in a few minutes"
            )

    def push(self, ticket: Ticket, *, enforce_caps: bool = True) -> None:
        """Add a job behind its owner's other jobs.

        Raises the cap errors of `check_admission` unless `enforce_caps` is false, which is for jobs
        recovered after a restart: they were accepted once and are never dropped.
        """
        if ticket.job_id in self._waiting or ticket.job_id in self._running:
            raise ValueError(f"job {ticket.job_id} is already scheduled")
        if enforce_caps:
            self.check_admission(ticket.owner_id)
        self._ring.setdefault(ticket.owner_id, deque()).append(ticket)
        self._waiting[ticket.job_id] = ticket
        self._per_owner[ticket.owner_id] += 1

    def remove(self, job_id: str) -> Ticket:
        """Take a waiting job out of the line (cancellation). Raises `KeyError` if it is not waiting."""
        ticket = self._waiting.pop(job_id)
        jobs = self._ring[ticket.owner_id]
        jobs.remove(ticket)
        if not jobs:
            del self._ring[ticket.owner_id]
        self._release(ticket.owner_id)
        return ticket

    def head(self) -> Ticket | None:
        """The job the worker takes next, or None when nothing waits."""
        for jobs in self._ring.values():
            return jobs[0]
        return None

    def pop_batch(self, max_size: int = 1) -> list[Ticket]:
        """Hand the worker the head job plus up to `max_size - 1` directly following jobs of its shape.

        The jobs move from waiting to running; they keep counting against their owners' caps until
        `finish`. Returns an empty list when nothing waits.
        """
        head = self.head()
        if head is None:
            return []
        batch = []
        for ticket in islice(self._iter_order(), max(1, max_size)):
            if ticket.shape != head.shape:
                break
            batch.append(ticket)
        for ticket in batch:
            self._take_front(ticket)
        return batch

    def finish(self, job_id: str) -> Ticket:
        """Forget a running job (it ended in any way). Raises `KeyError` if it is not running."""
        ticket = self._running.pop(job_id)
        self._release(ticket.owner_id)
        return ticket

    def order(self) -> list[Ticket]:
        """Every waiting job, in the order the worker will take them."""
        return list(self._iter_order())

    def _iter_order(self) -> Iterator[Ticket]:
        lines = list(self._ring.values())
        depth = 0
        while lines:
            for jobs in lines:
                yield jobs[depth]
            depth += 1
            lines = [jobs for jobs in lines if len(jobs) > depth]

    def _take_front(self, ticket: Ticket) -> None:
        # The batch is a prefix of the order, so each ticket is the first job of the front owner.
        owner = ticket.owner_id
        jobs = self._ring.pop(owner)
        if jobs.popleft() is not ticket:
            raise AssertionError(f"job {ticket.job_id} is not at the head of the line")
        if jobs:
            self._ring[owner] = jobs
        del self._waiting[ticket.job_id]
        self._running[ticket.job_id] = ticket

    def _release(self, owner_id: str) -> None:
        self._per_owner[owner_id] -= 1
        if not self._per_owner[owner_id]:
            del self._per_owner[owner_id]
