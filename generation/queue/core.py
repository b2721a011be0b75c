"""`QueueCore`: the queue's state and every change to it, on the event loop.

It owns the fair line, the jobs that are waiting or running, their event logs, the estimates and the
store, and offers verbs: for the consumer `admit`, `cancel`, `clear`, `pause`, and for the worker the
`JobSource` calls (`take`, `begin`, `progress`, `wanted`, `end`, `put_back`, `learn`). Nothing
outside reads its fields.

With several models on the one GPU, the line keeps same-model runs together within the bound that
`scheduler` states, and the jobs of a batch that makes the GPU swap start with `loading` set. An ETA
counts everything that runs before the job on the one GPU, whatever its model, plus the swaps the line
foresees at each model's measured load time: every job waits for the same GPU, so jobs of other models
ahead of it take its time too (with workers per model, as in Redis, only its own model's would).

Daily quotas (`generation.queue.quota`) are checked and counted in `admit` before its first await, so
the event loop makes the check and the count one step; `end` gives a failed or cancelled job's count back.

One place ends a job, `end`, whatever the outcome, and only the first ending of a job counts. A
terminal state is committed to SQLite before it is announced, so what a listener hears is what a
restart will find. Every job that is live in this process has an event log from the moment it is
admitted or recovered; a job's log is kept a while after it ends, so a late `watch` still hears how
it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from generation.clock import Clock
from generation.queue.allowance import Allowance, QuotaUsage
from generation.queue.eta import EtaEstimator
from generation.queue.events import EventHub, JobEventLog
from generation.queue.interface import (
    Actor,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobInfo,
    JobProgress,
    JobQueued,
    JobSpec,
    JobStarted,
    JobStatus,
    SystemActor,
    actor_text,
)
from generation.queue.quota import QuotaBook
from generation.queue.reasons import CRASHED, NOT_SAVED
from generation.queue.scheduler import FairScheduler, Ticket
from generation.queue.source import BatchLimits, Cancelled, Ending, Failed, Succeeded
from generation.queue.store import JobStore, StoredJob
from generation.results import VideoResult

log = logging.getLogger(__name__)

PlacesInLine = dict[str, tuple[int, float | None]]
"""Waiting job ids in run order, each with its 1-based position and ETA in seconds."""

ENDED_LOGS_KEPT: Final = 1024
"""How many ended jobs' event logs stay for late watchers (older ones are rebuilt from storage)."""


@dataclass
class _Places:
    """The waiting jobs in run order as of a scheduler and an estimator version: each one's 1-based
    position and the seconds of work from the head up to and including it (swaps counted; None from the
    first unknown estimate on), to which a place adds the running call's remaining time."""

    versions: tuple[int, int]
    held: str | None  # the model the GPU holds once the jobs so far have run
    work: dict[str, tuple[int, float | None]] = field(default_factory=dict)
    total: float | None = 0.0

    def add(self, ticket: Ticket, eta: EtaEstimator) -> tuple[int, float | None]:
        """Put `ticket` after the others; return its position and work."""
        work = self.total
        if work is not None and ticket.model is not None and self.held is not None and ticket.model != self.held:
            load_s = eta.load(ticket.model)
            work = None if load_s is None else work + load_s
        self.held = ticket.model or self.held
        if work is not None:
            rate = eta.rate(ticket.shape)
            work = None if rate is None else work + rate * ticket.cost
        self.total = work
        place = self.work[ticket.job_id] = (len(self.work) + 1, work)
        return place


@dataclass
class _Attempt:
    """The pipeline call running now: who is in it, since when, and how far it got."""

    members: tuple[str, ...]
    started_at: float
    cost: float
    step: int = 0
    total: int = 0
    loading_s: float = 0.0  # expected seconds of the swap it starts with, before its first step


class QueueCore:
    """The fair line, the live jobs and their events, kept consistent; see the module docstring."""

    def __init__(
        self, scheduler: FairScheduler, store: JobStore, eta: EtaEstimator, hub: EventHub, clock: Clock
    ) -> None:
        self._scheduler = scheduler
        self._store = store
        self._eta = eta
        self._hub = hub
        self._clock = clock
        self._jobs: dict[str, JobInfo] = {}  # waiting and running
        self._ending: dict[str, JobInfo] = {}  # ended, not yet saved and announced
        self._logs: dict[str, JobEventLog] = {}  # live jobs
        self._ended_logs: OrderedDict[str, JobEventLog] = OrderedDict()
        self._running: dict[str, Ticket] = {}  # taken by the worker, not ended
        self._attempt: _Attempt | None = None
        self._cancels: dict[str, Actor] = {}  # running jobs whose cancellation was asked for
        self._loading: dict[str, str] = {}  # jobs taken in a batch that swaps models -> the model it loads
        self._cancel_listeners: list[Callable[[str], None]] = []
        self._quotas = QuotaBook()
        self._positions: dict[str, int] = {}  # last position announced per waiting job
        self._announced = -1  # scheduler version of the last announcement
        self._places = _Places((-1, -1), None)  # see `_line_work`
        self._paused = False
        self._stopping = False
        self._wake = asyncio.Event()

    # -- reading ------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """True while new jobs are neither started nor accepted."""
        return self._paused

    @property
    def waiting_count(self) -> int:
        """Jobs waiting in line."""
        return self._scheduler.waiting_count

    @property
    def running_count(self) -> int:
        """Jobs the worker holds."""
        return len(self._running)

    def known(self, job_id: str) -> bool:
        """True for a job live in this process (waiting, running, or ending right now)."""
        return job_id in self._jobs or job_id in self._ending

    def snapshot(self, job_id: str, line: PlacesInLine | None = None) -> JobInfo:
        """The live job's info with its current position and ETA. Raises `KeyError` for others."""
        if job_id in self._ending:
            return self._ending[job_id]
        info = self._jobs[job_id]
        if job_id not in self._running:  # taken jobs wait for their start out of line, as in Redis
            if line is not None:
                position, eta_s = line.get(job_id, (None, None))
            else:
                position, work = self._line_work().work.get(job_id, (None, None))
                eta_s = None if position is None else _after(self._running_remaining(), work)
            return replace(info, position=position, eta_s=eta_s)
        return replace(info, position=0, eta_s=self._running_remaining())

    def active(self) -> list[JobInfo]:
        """Running jobs first, then waiting ones in the order they will run."""
        line = self.line()
        running = [job_id for job_id in self._jobs if job_id not in line]
        return [self.snapshot(job_id, line) for job_id in (*running, *line)]

    def line(self) -> PlacesInLine:
        """Waiting jobs in the order they will run, with positions and ETAs (swaps included)."""
        remaining_s = self._running_remaining()
        places = self._line_work().work
        return {job_id: (position, _after(remaining_s, work)) for job_id, (position, work) in places.items()}

    def _line_work(self) -> _Places:
        """The waiting jobs' places and work, replayed only when the line or the estimates changed since."""
        versions = (self._scheduler.version, self._eta.version)
        if self._places.versions != versions:
            # The running batch's model, or the one the idle GPU holds.
            self._places = _Places(versions, self._scheduler.held)
            for ticket in self._scheduler.order():
                self._places.add(ticket, self._eta)
        return self._places

    def waiting_by_model(self) -> Counter[str]:
        """How many jobs wait for each model (jobs naming none left out)."""
        return Counter(ticket.model for ticket in self._scheduler.order() if ticket.model is not None)

    def watch(self, job_id: str) -> AsyncIterator[JobEvent] | None:
        """The job's events from the start, if it is live or ended recently in this process."""
        events = self._logs.get(job_id) or self._ended_logs.get(job_id)
        return events.stream() if events is not None else None

    def subscribe(self) -> AsyncIterator[JobEvent]:
        """Every job's events from now on (see `EventHub`)."""
        return self._hub.subscribe()

    # -- the consumer's verbs -----------------------------------------------------------------

    async def admit(self, job_id: str, spec: JobSpec) -> JobInfo:
        """Put a new job in line, save it, and return its snapshot.

        Raises `QuotaExceededError` if its allowance's daily quota is used up, then the scheduler's cap
        errors (its allowance's `max_held` in place of the per-owner cap); a refused job counts nowhere.
        If it cannot be saved it ends failed and the error propagates: the caller must not show it.
        """
        now = self._clock.time()
        allowance = spec.allowance
        # Checked and counted before any await: no other submission can take the last one in between.
        self._quotas.check(allowance, now)
        ticket, before = _ticket(job_id, spec), self._scheduler.version
        self._scheduler.push(ticket, max_held=allowance.max_held)
        if allowance.quota_key:
            self._quotas.count(job_id, allowance.quota_key, now)
        info = JobInfo(
            job_id=job_id,
            spec=spec,
            status=JobStatus.QUEUED,
            position=None,
            eta_s=None,
            submitted_at=now,
        )
        self._jobs[job_id] = info
        self._logs[job_id] = JobEventLog()
        if not self._join_end(ticket, before):
            self.reposition()
        # DEBUG: the consumer logs the one INFO line per submission (the bot: "job acknowledged", with
        # the user, guild and position), and a burst of a thousand must not pay for two.
        log.debug(
            "job queued job_id=%s owner=%s group=%s position=%s",
            job_id, spec.owner_id, spec.group_id, self._positions.get(job_id),
        )  # fmt: skip
        self._wake.set()
        try:
            await self._store.save([info])
        except Exception:
            log.exception("could not save job_id=%s", job_id)
            await self.end(job_id, Failed(NOT_SAVED), wait=False)
            raise
        return self.snapshot(job_id) if job_id in self._jobs else info

    async def cancel(self, job_id: str, by: Actor) -> JobInfo | None:
        """Cancel a live job; None if it is not live here.

        A waiting job ends at once. A running one ends at once too, unless it is the last member of
        the running call anybody wants: then the call is stopped at its next step (the cancel
        listeners are told) and the job ends when it stops; its snapshot says who asked.
        """
        if not self.known(job_id) or job_id in self._ending:
            return None
        if job_id in self._running:
            self._cancels.setdefault(job_id, by)
            attempt = self._attempt
            if attempt is not None and job_id in attempt.members and not any(map(self.wanted, attempt.members)):
                for listener in self._cancel_listeners:
                    listener(job_id)
                log.info("job cancelling job_id=%s by=%s (stops at the next step)", job_id, actor_text(by))
                return replace(self.snapshot(job_id), cancelled_by=by)
        saved = self._end(job_id, Cancelled(by))
        ended = self._ending[job_id]
        await _all_saved([saved])
        return ended

    async def clear(self, by: Actor) -> list[JobInfo]:
        """Cancel every waiting job (the running call goes on); return them in the order they were."""
        waiting = [ticket.job_id for ticket in self._scheduler.order()]
        saved = [self._end(job_id, Cancelled(by)) for job_id in waiting]
        ended = [self._ending[job_id] for job_id in waiting]
        await _all_saved(saved)
        log.info("queue cleared by=%s cancelled=%d", actor_text(by), len(ended))
        return ended

    def pause(self) -> None:
        """Start no new jobs (the running call finishes)."""
        self._paused = True

    def resume(self) -> None:
        """Start jobs again."""
        self._paused = False
        self._wake.set()

    def stop(self) -> None:
        """Hand the worker no more batches; `take` answers None from now on."""
        self._stopping = True
        self._wake.set()

    def quota_usage(self, allowance: Allowance) -> QuotaUsage:
        """Where `allowance`'s daily quota stands now."""
        return self._quotas.usage(allowance, self._clock.time())

    def restore_quotas(self, counted: Sequence[tuple[str, str, float]]) -> None:
        """Count again the jobs a previous run counted, as (job id, quota key, submitted at), oldest first;
        before `recover`, which gives back the count of those it fails."""
        for job_id, quota_key, submitted_at in counted:
            self._quotas.count(job_id, quota_key, submitted_at)

    def update_context(self, job_id: str, context: str) -> None:
        """Replace a live job's opaque context in memory (the caller saves it)."""
        for infos in (self._jobs, self._ending):
            if job_id in infos:
                info = infos[job_id]
                infos[job_id] = replace(info, spec=replace(info.spec, context=context))

    async def recover(self, leftovers: Sequence[StoredJob], max_crashes: int) -> list[JobInfo]:
        """Put back in line the jobs a previous run left waiting or running (`leftovers`, oldest
        first); fail those that crashed the worker `max_crashes` times. Returns the failed ones."""
        failed = []
        for job in leftovers:
            info = job.info
            self._jobs[info.job_id] = info
            self._logs[info.job_id] = JobEventLog()
            if job.crashes >= max_crashes:
                failed.append(info.job_id)
                continue
            # A crash is counted on every job of the batch it hit: only a job running alone owns its next one.
            self._scheduler.push(_ticket(info.job_id, info.spec, alone=job.crashes > 0), enforce_caps=False)
        crashes = {job.info.job_id: job.crashes for job in leftovers}
        saved = [self._end(job_id, Failed(_crash_reason(crashes[job_id]))) for job_id in failed]
        ended = [self._ending[job_id] for job_id in failed]
        self.reposition(recovered=True)
        await _all_saved(saved)
        return ended

    # -- the worker's verbs (`JobSource`) -----------------------------------------------------

    async def take(self, limits: BatchLimits) -> list[JobInfo] | None:
        """The next batch in the fair order, now running; None once stopping. Waits while paused or idle."""
        while not self._stopping:
            head = self._scheduler.head()
            if head is not None and not self._paused:
                held = self._scheduler.held
                batch = self._scheduler.pop_batch(limits.for_shape(head.shape))
                model = batch[0].model
                if model is not None and held is not None and model != held:
                    self._loading.update((ticket.job_id, model) for ticket in batch)
                self._running.update((ticket.job_id, ticket) for ticket in batch)
                self._attempt = None
                self.reposition()
                return [self._jobs[ticket.job_id] for ticket in batch]
            self._wake.clear()
            await self._wake.wait()
        return None

    async def begin(self, job_ids: Sequence[str]) -> float:
        """An attempt for these running jobs starts now: save it, then announce it. Returns its start."""
        now = self._clock.time()
        cost = sum(self._running[job_id].cost for job_id in job_ids)
        # Only the batch's first attempt swaps: a retry in halves finds the model loaded.
        loading = {job_id: model for job_id in job_ids if (model := self._loading.pop(job_id, None))}
        load_s = self._eta.load(next(iter(loading.values()))) if loading else None
        self._attempt = attempt = _Attempt(tuple(job_ids), now, cost, loading_s=load_s or 0.0)
        infos = [_started(self._jobs[job_id], now) for job_id in job_ids]
        self._jobs.update((info.job_id, info) for info in infos)
        await self._store.save(infos, batch_size=len(infos))
        shape = self._running[job_ids[0]].shape
        eta_s = self._eta.estimate(shape, attempt.cost)
        eta_s = eta_s + attempt.loading_s if eta_s is not None else None
        for info in infos:
            if info.job_id not in self._jobs:  # cancelled while the attempt was being saved
                continue
            self._emit(JobStarted(info.job_id, len(infos), eta_s, loading=loading.get(info.job_id)))
            log.info(
                "job started job_id=%s owner=%s group=%s batch=%d attempt=%d wait_s=%.3f",
                info.job_id, info.spec.owner_id, info.spec.group_id, len(infos), info.attempts,
                now - info.submitted_at,
            )  # fmt: skip
        return now

    def progress(self, job_ids: Sequence[str], step: int, total: int) -> None:
        """The running attempt finished a step: remember it (for ETAs) and tell the jobs still wanted."""
        attempt = self._attempt
        if attempt is None or attempt.members != tuple(job_ids):
            return
        attempt.step, attempt.total = step, total
        elapsed_s = self._clock.time() - attempt.started_at
        for job_id in job_ids:
            if self.wanted(job_id):
                self._emit(JobProgress(job_id, step, total, elapsed_s))

    def wanted(self, job_id: str) -> bool:
        """True while the job runs and nobody asked to cancel it."""
        return job_id in self._running and job_id not in self._cancels

    def on_cancel(self, listener: Callable[[str], None]) -> None:
        """Call `listener(job_id)` when a running call should stop for a cancellation."""
        self._cancel_listeners.append(listener)

    async def end(self, job_id: str, ending: Ending, *, wait: bool = True) -> bool:
        """End a live job, whatever the outcome; False if it is not live (it ended already).

        The terminal state is saved, then announced with one log line; with `wait`, this returns
        once it is saved (a failed save is logged and announced anyway: the job did end).
        """
        saved = self._end(job_id, ending)
        if saved is None:
            return False
        if wait:
            await _all_saved([saved])
        return True

    def _end(self, job_id: str, ending: Ending) -> asyncio.Future[None] | None:
        """`end` without waiting: the save's future, or None if the job is not live."""
        info = self._jobs.pop(job_id, None)
        if info is None:
            return None
        if self._scheduler.is_waiting(job_id):
            self._scheduler.remove(job_id)
        elif self._running.pop(job_id, None) is not None:
            self._scheduler.finish(job_id)
        requested = self._cancels.pop(job_id, None)
        self._loading.pop(job_id, None)
        if isinstance(ending, Failed | Cancelled):
            self._quotas.release(job_id)  # only what was delivered (or may still be) uses a quota
        if isinstance(ending, Succeeded) and ending.timings.load_s > 0 and info.spec.request.model is not None:
            self._eta.record_load(info.spec.request.model, ending.timings.load_s)
        final, event = _ended(info, self._clock.time(), ending, requested)
        self._ending[job_id] = final
        batch_size = ending.batch_size if isinstance(ending, Succeeded) else None
        committed = self._store.save_soon([final], batch_size=batch_size)
        committed.add_done_callback(lambda future: self._announce(future, final, event))
        return committed

    async def put_back(self, job_ids: Sequence[str]) -> None:
        """Save running jobs stopped by shutdown as waiting for the next start; cancelled ones end."""
        back = []
        for job_id in job_ids:
            if job_id in self._cancels:
                self._end(job_id, Cancelled())
            elif job_id in self._running:
                del self._running[job_id]
                self._loading.pop(job_id, None)
                self._scheduler.finish(job_id)
                back.append(_interrupted(self._jobs.pop(job_id)))
                log.info("job interrupted by shutdown job_id=%s; it will run again on the next start", job_id)
                events = self._logs.get(job_id)
                if events is not None:
                    events.close()  # the job's stream in this process ends here; it runs after the restart
        await self._store.save(back)

    def learn(self, shape: Hashable, cost: float, run_s: float, after_s: float) -> None:
        """Teach the estimates what a call of `shape` and `cost` took."""
        self._eta.record(shape, cost, run_s, after_s=after_s)

    # -- announcing ---------------------------------------------------------------------------

    def reposition(self, *, recovered: bool = False) -> None:
        """Tell every waiting job whose place in line changed its new place and ETA."""
        if self._scheduler.version == self._announced and not recovered:
            return
        self._announced = self._scheduler.version
        line = self.line()
        for job_id, (position, eta_s) in line.items():
            if self._positions.get(job_id) != position:
                self._emit(JobQueued(job_id, position, eta_s, recovered=recovered))
        self._positions = {job_id: position for job_id, (position, _) in line.items()}

    def _join_end(self, ticket: Ticket, before: int) -> bool:
        """Announce a job just pushed without replaying the line, where it goes last and every place as of
        scheduler version `before` was announced: then no other place moved. False where it cannot."""
        places = self._places
        if self._announced != before or places.versions != (before, self._eta.version):
            return False
        if not self._scheduler.ends_order(ticket.job_id):
            return False
        position, work = places.add(ticket, self._eta)
        self._announced = self._scheduler.version
        places.versions = (self._announced, self._eta.version)
        self._positions[ticket.job_id] = position
        self._emit(JobQueued(ticket.job_id, position, _after(self._running_remaining(), work)))
        return True

    def close(self) -> None:
        """End every event stream (the queue is closing); live jobs' streams end without a terminal event."""
        for events in (*self._logs.values(), *self._ended_logs.values()):
            events.close()
        self._hub.close()

    def _emit(self, event: JobEvent) -> None:
        events = self._logs.get(event.job_id)
        if events is not None:
            events.append(event)
            if isinstance(event, JobFinished | JobFailed | JobCancelled):
                events.close()
                del self._logs[event.job_id]
                self._ended_logs[event.job_id] = events
                while len(self._ended_logs) > ENDED_LOGS_KEPT:
                    self._ended_logs.popitem(last=False)
        self._hub.publish(event)

    def _announce(self, committed: asyncio.Future[None], info: JobInfo, event: JobEvent) -> None:
        error = committed.exception()
        if error is not None:
            # The job did end: tell its owner anyway; a restart may run it again.
            log.error("could not save the ending of job_id=%s", info.job_id, exc_info=error)
        self._ending.pop(info.job_id, None)
        self._positions.pop(info.job_id, None)
        self._emit(event)
        detail = f" by={actor_text(info.cancelled_by)}" if info.cancelled_by is not None else ""
        detail += f" reason={info.error!r}" if info.error else ""
        log.info(
            "job %s job_id=%s owner=%s group=%s wait_s=%s run_s=%s%s",
            info.status.value, info.job_id, info.spec.owner_id, info.spec.group_id,
            _span(info.submitted_at, info.started_at), _span(info.started_at, info.finished_at), detail,
        )  # fmt: skip
        self.reposition()

    def _running_remaining(self) -> float | None:
        """Seconds until the worker is free again (0 when idle), or None if unknown.

        During a retry in halves that is the rest of this attempt plus the members still to run.
        """
        if not self._running:
            return 0.0
        shape = next(iter(self._running.values())).shape
        attempt = self._attempt
        if attempt is None or self._running.keys().isdisjoint(attempt.members):  # none begun, or it is over
            return self._eta.estimate(shape, sum(ticket.cost for ticket in self._running.values()))
        elapsed_s = self._clock.time() - attempt.started_at
        # A swap's load comes before the first step: the pipeline's own pace starts after it.
        loading_left = max(0.0, attempt.loading_s - elapsed_s) if attempt.step == 0 else 0.0
        running_s = max(0.0, elapsed_s - attempt.loading_s)
        current = self._eta.remaining(shape, attempt.cost, running_s, attempt.step, attempt.total)
        current = None if current is None else current + loading_left
        later_cost = sum(ticket.cost for job_id, ticket in self._running.items() if job_id not in attempt.members)
        later = self._eta.estimate(shape, later_cost) if later_cost else 0.0
        return None if current is None or later is None else current + later


async def _all_saved(saves: Sequence[asyncio.Future[None] | None]) -> None:
    """Until every save has been committed or failed (a failure is logged when it is announced)."""
    for saved in saves:
        if saved is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(saved)


def _ticket(job_id: str, spec: JobSpec, *, alone: bool = False) -> Ticket:
    request = spec.request
    return Ticket(
        job_id, spec.owner_id, request.shape, request.cost, alone=alone, model=request.model,
        weight=spec.allowance.weight,
    )  # fmt: skip


def _after(remaining_s: float | None, work_s: float | None) -> float | None:
    """An ETA: the running call's remaining seconds plus the work up to the job, if both are known."""
    return None if remaining_s is None or work_s is None else remaining_s + work_s


def _crash_reason(crashes: int) -> str:
    return CRASHED.format(crashes=crashes)


def _span(start: float | None, end: float | None) -> str:
    return "-" if start is None or end is None else f"{end - start:.3f}"


def _started(info: JobInfo, now: float) -> JobInfo:
    """The job as it starts another attempt (the first start time is kept)."""
    return replace(
        info,
        status=JobStatus.RUNNING,
        position=0,
        started_at=info.started_at if info.started_at is not None else now,
        attempts=info.attempts + 1,
    )


def _interrupted(info: JobInfo) -> JobInfo:
    """The job as shutdown puts it back in line, to run again on the next start."""
    return replace(info, status=JobStatus.QUEUED, position=None, eta_s=None, started_at=None)


def _ended(info: JobInfo, now: float, ending: Ending, requested: Actor | None) -> tuple[JobInfo, JobEvent]:
    """The job's final info and terminal event for `ending` (`requested`: who asked to cancel it, if anyone)."""
    final = replace(info, position=None, eta_s=None, finished_at=now, video_path=None, timings=None)
    match ending:
        case Succeeded(video=video, seed=seed, timings=timings):
            final = replace(final, status=JobStatus.SUCCEEDED, seed=seed, video_path=str(video.path), timings=timings)
            return final, JobFinished(info.job_id, VideoResult(info.spec.request, seed, video, timings))
        case Cancelled(by=by):
            actor = by if by is not None else requested or SystemActor.UNKNOWN
            return replace(final, status=JobStatus.CANCELLED, cancelled_by=actor), JobCancelled(info.job_id, actor)
        case Failed(reason=reason):
            return replace(final, status=JobStatus.FAILED, error=reason), JobFailed(info.job_id, reason)
