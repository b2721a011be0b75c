"""The queue's live state on the event loop: active jobs, their places in line, and events going out.

Shared by the public API (`local.py`) and the worker (`worker.py`); everything here runs on the event
loop and only the `settle`/`end_running` steps await (the database). Terminal states are committed
before they are announced, so what a listener hears is what a restart will find.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Hashable, Sequence
from dataclasses import replace

from generation.clock import Clock
from generation.queue.eta import EtaEstimator
from generation.queue.events import EventHub, JobEventLog
from generation.queue.interface import (
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobInfo,
    JobQueued,
    JobStatus,
)
from generation.queue.run import Run, finished
from generation.queue.scheduler import FairScheduler
from generation.queue.store import JobStore

log = logging.getLogger(__name__)

Line = dict[str, tuple[int, float | None]]
"""Waiting job ids in run order, each with its 1-based position and ETA in seconds."""

Ended = tuple[str, JobStatus, str | None]
"""A running job that ended as failed (with the reason for the user) or cancelled (reason unused)."""


class Ledger:
    """Active jobs, the fair line, the running batch and the event streams, kept consistent."""

    def __init__(
        self,
        scheduler: FairScheduler,
        store: JobStore,
        eta: EtaEstimator,
        hub: EventHub,
        clock: Clock,
    ) -> None:
        self.scheduler = scheduler
        self.store = store
        self.eta = eta
        self.hub = hub
        self.clock = clock
        self.jobs: dict[str, JobInfo] = {}  # waiting and running jobs
        self.logs: dict[str, JobEventLog] = {}  # per-job streams of jobs submitted in this process
        self.run: Run | None = None
        self._positions: dict[str, int] = {}  # last position announced per waiting job
        self._announced = -1  # scheduler version of the last announcement

    def emit(self, event: JobEvent) -> None:
        """Send `event` to its job's stream and to every subscriber."""
        events = self.logs.get(event.job_id)
        if events is not None:
            events.append(event)
            if isinstance(event, JobFinished | JobFailed | JobCancelled):
                events.close()
                del self.logs[event.job_id]
        self.hub.publish(event)

    def reposition(self, *, recovered: bool = False) -> None:
        """Tell every waiting job whose place in line changed its new place and ETA."""
        if self.scheduler.version == self._announced and not recovered:
            return
        self._announced = self.scheduler.version
        line = self.line()
        for job_id, (position, eta_s) in line.items():
            if self._positions.get(job_id) != position:
                self.emit(JobQueued(job_id, position, eta_s, recovered=recovered))
        self._positions = {job_id: position for job_id, (position, _) in line.items()}

    def position(self, job_id: str) -> int | None:
        """The last position announced for a waiting job (None if it is not waiting)."""
        return self._positions.get(job_id)

    def line(self) -> Line:
        """Waiting jobs in the order they will run, with positions and ETAs."""
        rates: dict[Hashable, float | None] = {}
        line: Line = {}
        eta_s = self.running_remaining()
        for position, ticket in enumerate(self.scheduler.order(), 1):
            if eta_s is not None:
                if ticket.shape not in rates:
                    rates[ticket.shape] = self.eta.rate(ticket.shape)
                rate = rates[ticket.shape]
                eta_s = None if rate is None else eta_s + rate * ticket.cost
            line[ticket.job_id] = (position, eta_s)
        return line

    def running_remaining(self) -> float | None:
        """Seconds until the worker is free again (0 when idle), or None if unknown.

        During a retry in halves that is the rest of this attempt plus the members still to run.
        """
        run = self.run
        if run is None:
            return 0.0
        attempt = run.attempt
        if attempt is None:
            return self.eta.estimate(run.shape, sum(run.costs[job_id] for job_id in run.live))
        elapsed_s = self.clock.time() - attempt.started_at
        current = self.eta.remaining(run.shape, attempt.cost, elapsed_s, attempt.step, attempt.total)
        later_cost = sum(run.costs[job_id] for job_id in run.live if job_id not in attempt.members)
        later = self.eta.estimate(run.shape, later_cost) if later_cost else 0.0
        return None if current is None or later is None else current + later

    def snapshot(self, job_id: str, line: Line | None = None) -> JobInfo:
        """The active job's info with its current position and ETA."""
        info = self.jobs[job_id]
        if info.status is JobStatus.QUEUED:
            position, eta_s = (line if line is not None else self.line()).get(job_id, (None, None))
            return replace(info, position=position, eta_s=eta_s)
        if info.status is JobStatus.RUNNING:
            return replace(info, position=0, eta_s=self.running_remaining())
        return info

    async def settle(self, settled: Sequence[tuple[JobInfo, JobEvent]], *, batch_size: int | None = None) -> None:
        """Commit terminal states, then announce them and everyone's new places in line."""
        if settled:
            with contextlib.suppress(Exception):  # logged by the announcement
                await asyncio.shield(self.settle_soon(settled, batch_size=batch_size))

    def settle_soon(
        self, settled: Sequence[tuple[JobInfo, JobEvent]], *, batch_size: int | None = None
    ) -> asyncio.Future[None]:
        """Like `settle`, without waiting: the announcement follows the commit, in order.

        The worker uses this for finished jobs, so their commit shares a transaction with the next
        batch's start instead of costing a round trip of its own.
        """
        for info, _ in settled:
            self.jobs[info.job_id] = info
        committed = self.store.save_soon([info for info, _ in settled], batch_size=batch_size)
        committed.add_done_callback(lambda future: self._announce(future, settled))
        return committed

    def _announce(self, committed: asyncio.Future[None], settled: Sequence[tuple[JobInfo, JobEvent]]) -> None:
        error = committed.exception()
        if error is not None:
            # The jobs did end: tell their owners anyway; a restart may run them again.
            ids = ",".join(info.job_id for info, _ in settled)
            log.error("could not save ended jobs %s", ids, exc_info=error)
        for info, event in settled:
            self.conclude(info, event)
        self.reposition()

    def conclude(self, info: JobInfo, event: JobEvent) -> None:
        """Forget an ended job and announce how it ended (with one log line)."""
        self.jobs.pop(info.job_id, None)
        self._positions.pop(info.job_id, None)
        self.emit(event)
        detail = f" by={info.cancelled_by}" if info.cancelled_by else ""
        detail += f" reason={info.error!r}" if info.error else ""
        log.info(
            "job %s id=%s owner=%s group=%s wait_s=%s run_s=%s%s",
            info.status.value, info.job_id, info.spec.owner_id, info.spec.group_id,
            _span(info.submitted_at, info.started_at), _span(info.started_at, info.finished_at), detail,
        )  # fmt: skip

    async def end_running(self, run: Run, ended: Sequence[Ended]) -> list[JobInfo]:
        """Settle members of `run` that failed or were cancelled and return them; ended ones are skipped."""
        now = self.clock.time()
        settled: list[tuple[JobInfo, JobEvent]] = []
        for job_id, status, reason in ended:
            if not run.end(job_id):
                continue
            self.scheduler.finish(job_id)
            if status is JobStatus.CANCELLED:
                by = run.cancelled_by.get(job_id, "unknown")
                info = finished(run.infos[job_id], now, status, cancelled_by=by)
                settled.append((info, JobCancelled(job_id, by)))
            else:
                reason = reason or "the job failed"
                info = finished(run.infos[job_id], now, status, error=reason)
                settled.append((info, JobFailed(job_id, reason)))
        await self.settle(settled)
        return [info for info, _ in settled]


def _span(start: float | None, end: float | None) -> str:
    return "-" if start is None or end is None else f"{end - start:.3f}"
