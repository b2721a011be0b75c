"""The one worker task: takes batches from the fair line and sees each job through to its end.

The loop never dies: each batch is wrapped, and a bug fails that batch's jobs (logged with their ids)
while the worker goes on to the next. The blocking work happens on the `GpuThread`.

* Attempts are committed before they run, so a crash is visible on the next start (see `store`).
* A failed batch (out of memory or anything else) is split in halves and each half retried, down to
  single jobs, so a job fails only for its own sake. After an out-of-memory error the batch size for
  that shape is halved for the rest of the process.
* Cancelling one job of a batch does not disturb the others: it ends at once and its clip is
  discarded; only when nobody in a running call wants its result does the call stop, at its next step.
* The watchdog fails a call that runs past `job_timeout_s` (on the ledger's clock) at once and cancels
  its token; the thread stops at its next step, and the next batch starts only then (there is one GPU).
* On shutdown the running call is interrupted and its jobs are saved as queued, not as a crash.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Hashable
from dataclasses import dataclass, replace
from pathlib import Path

from generation.clock import within
from generation.errors import GenerationCancelled, GenerationTimeout, OutOfMemoryError, VideoBotError
from generation.queue.gpu import BatchOutcome, Encoded, GpuThread
from generation.queue.interface import JobEvent, JobFinished, JobInfo, JobProgress, JobStarted, JobStatus
from generation.queue.ledger import Ended, Ledger
from generation.queue.run import Attempt, Run, finished, interrupted, started
from generation.queue.scheduler import Ticket
from generation.results import VideoResult

log = logging.getLogger(__name__)

_BUG_REASON = "something went wrong on our side while making this video; it has been logged"


class Worker:
    """Runs what the fair line hands it, one batch at a time, until stopped."""

    def __init__(self, ledger: Ledger, gpu: GpuThread, *, batch_size: int, timeout_s: float, output_dir: Path) -> None:
        self._ledger = ledger
        self._gpu = gpu
        self._batch_size = batch_size
        self._timeout_s = timeout_s
        self._output_dir = output_dir
        self._oom_batch_limits: dict[Hashable, int] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self.paused = False

    def wake(self) -> None:
        """Look at the line again (a job arrived, the queue was resumed or is stopping)."""
        self._wake.set()

    def stop(self) -> None:
        """Take no new batch; the running one goes on until it ends or is interrupted."""
        self._stopping = True
        self._wake.set()

    def interrupt(self) -> None:
        """Stop the running call at its next step; its jobs are saved as queued for the next start."""
        run = self._ledger.run
        if run is not None:
            run.interrupted = True
            if run.attempt is not None:
                run.attempt.token.cancel()

    async def serve(self) -> None:
        """The worker loop; returns after `stop()` once the running batch has ended.

        Loads the model first, so the first job does not pay for it; if that fails, each job tries
        again (and fails with the loading error until the model loads).
        """
        try:
            log.info("model loaded load_s=%.1f", await self._gpu.load())
        except Exception:
            log.exception("model load failed; jobs will retry it")
        ledger = self._ledger
        while (batch := await self._next_batch()) is not None:
            run = ledger.run = Run(batch, {ticket.job_id: ledger.jobs[ticket.job_id] for ticket in batch})
            ledger.reposition()
            try:
                await self._execute(run, list(run.live))
            except Exception:
                log.exception("worker error jobs=%s", ",".join(run.live))
                await self._fail_leftovers(run)
            finally:
                ledger.run = None

    async def cancel_running(self, run: Run, job_id: str, by: str) -> JobInfo:
        """Cancel a member of the running batch (see the module docstring)."""
        run.cancelled_by.setdefault(job_id, by)
        attempt = run.attempt
        if attempt is not None and job_id in attempt.members and not any(map(run.wants, attempt.members)):
            attempt.token.cancel()
            log.info("job cancelling id=%s by=%s (stops at the next step)", job_id, by)
            return replace(self._ledger.snapshot(job_id), cancelled_by=by)
        ended = await self._ledger.end_running(run, [(job_id, JobStatus.CANCELLED, None)])
        return ended[0]

    async def put_back(self, run: Run, members: list[str]) -> None:
        """Save members stopped by shutdown as queued: they run again on the next start, crash-free.

        Members already cancelled (waiting for their call to stop) end as cancelled instead.
        """
        cancelled = [job_id for job_id in members if job_id in run.cancelled_by]
        await self._ledger.end_running(run, [(job_id, JobStatus.CANCELLED, None) for job_id in cancelled])
        infos = [interrupted(run.infos[job_id]) for job_id in members if run.end(job_id)]
        for info in infos:
            log.info("job interrupted by shutdown id=%s; it will run again on the next start", info.job_id)
        await self._ledger.store.save(infos)

    async def _next_batch(self) -> list[Ticket] | None:
        scheduler = self._ledger.scheduler
        while not self._stopping:
            head = scheduler.head()
            if head is not None and not self.paused:
                limit = min(self._batch_size, self._oom_batch_limits.get(head.shape, self._batch_size))
                return scheduler.pop_batch(limit)
            self._wake.clear()
            await self._wake.wait()
        return None

    async def _execute(self, run: Run, members: list[str]) -> None:
        """One generate call for the members still live; on failure, retry in halves."""
        members = [job_id for job_id in members if job_id in run.live]
        if not members:
            return
        if run.interrupted:
            await self.put_back(run, members)
            return
        ledger = self._ledger
        attempt = run.begin(members, ledger.clock.time())
        infos = [started(run.infos[job_id], attempt.started_at) for job_id in members]
        run.infos.update((info.job_id, info) for info in infos)
        ledger.jobs.update((info.job_id, info) for info in infos)
        await ledger.store.save(infos, batch_size=len(members))
        eta_s = ledger.eta.estimate(run.shape, attempt.cost)
        for info in infos:
            ledger.emit(JobStarted(info.job_id, len(members), eta_s))
            log.info(
                "job started id=%s owner=%s group=%s batch=%d attempt=%d wait_s=%.3f",
                info.job_id, info.spec.owner_id, info.spec.group_id, len(members), info.attempts,
                attempt.started_at - info.submitted_at,
            )  # fmt: skip
        try:
            outcome = await self._generate(run, attempt)
        except Exception as error:
            failure = _Failure.of(error, attempt.members)
        else:
            await self._after_success(run, attempt, outcome)
            return
        # Past the except block: the exception, and the GPU memory its frames hold, is gone by the retry.
        await self._after_error(run, attempt, failure)

    async def _generate(self, run: Run, attempt: Attempt) -> BatchOutcome:
        if attempt.token.cancelled:  # cancelled or interrupted while the attempt was being saved
            raise GenerationCancelled("cancelled")
        future = self._gpu.run(
            [run.infos[job_id].spec.request for job_id in attempt.members],
            [self._output_dir / f"{job_id}.mp4" for job_id in attempt.members],
            token=attempt.token,
            on_progress=lambda step, total: self._on_progress(run, attempt, step, total),
            wanted=lambda index: run.wants(attempt.members[index]),
        )
        if await within(self._ledger.clock, future, self._timeout_s):
            return future.result()
        timeout = GenerationTimeout(f"the video took longer than the {self._timeout_s:g} s limit and was stopped")
        attempt.timed_out = True
        attempt.token.cancel()
        log.warning("watchdog: call over %g s jobs=%s", self._timeout_s, ",".join(attempt.members))
        await self._ledger.end_running(run, [(job_id, JobStatus.FAILED, str(timeout)) for job_id in attempt.members])
        # The thread stops at its next step; nothing else may use the GPU before it has.
        await asyncio.wait({future})
        if not future.cancelled():
            future.exception()  # what the late call raised is moot; retrieving it keeps asyncio quiet
        raise timeout

    def _on_progress(self, run: Run, attempt: Attempt, step: int, total: int) -> None:
        if attempt.timed_out or run.attempt is not attempt:
            return
        attempt.step, attempt.total = step, total
        elapsed_s = self._ledger.clock.time() - attempt.started_at
        for job_id in attempt.members:
            if run.wants(job_id):
                self._ledger.emit(JobProgress(job_id, step, total, elapsed_s))

    async def _after_success(self, run: Run, attempt: Attempt, outcome: BatchOutcome) -> None:
        ledger = self._ledger
        encoded = [clip for clip in outcome.clips if isinstance(clip, Encoded)]
        if encoded:  # a call that encoded nothing (all its members cancelled) is not a typical run
            after_s = outcome.run_s - encoded[0].timings.denoise_s
            ledger.eta.record(run.shape, attempt.cost, outcome.run_s, after_s=after_s)
        now = ledger.clock.time()
        ended: list[Ended] = []
        succeeded: list[tuple[JobInfo, JobEvent]] = []
        for job_id, clip in zip(attempt.members, outcome.clips, strict=True):
            if not run.wants(job_id):
                if isinstance(clip, Encoded):
                    clip.video.path.unlink(missing_ok=True)
                ended.append((job_id, JobStatus.CANCELLED, None))
            elif isinstance(clip, Encoded):
                run.end(job_id)
                ledger.scheduler.finish(job_id)
                timings = replace(clip.timings, load_s=clip.timings.load_s + outcome.load_s)
                info = finished(
                    run.infos[job_id],
                    now,
                    JobStatus.SUCCEEDED,
                    seed=clip.seed,
                    video=clip.video,
                    timings=timings,
                )
                result = VideoResult(info.spec.request, clip.seed, clip.video, timings)
                succeeded.append((info, JobFinished(job_id, result)))
            else:
                ended.append((job_id, JobStatus.FAILED, clip.reason if clip else "the video was not encoded"))
        if succeeded:
            ledger.settle_soon(succeeded, batch_size=len(attempt.members))
        await ledger.end_running(run, ended)

    async def _after_error(self, run: Run, attempt: Attempt, failure: _Failure) -> None:
        if attempt.timed_out:
            return
        if run.interrupted:
            await self.put_back(run, attempt.members)
            return
        unwanted = [job_id for job_id in attempt.members if not run.wants(job_id)]
        await self._ledger.end_running(run, [(job_id, JobStatus.CANCELLED, None) for job_id in unwanted])
        wanted = [job_id for job_id in attempt.members if run.wants(job_id)]
        if len(wanted) > 1:
            if failure.out_of_memory:
                self._oom_batch_limits[run.shape] = max(1, len(attempt.members) // 2)
            log.warning("batch of %d failed (%s); retrying in halves jobs=%s", len(wanted), failure.summary, wanted)
            half = (len(wanted) + 1) // 2
            await self._execute(run, wanted[:half])
            await self._execute(run, wanted[half:])
        elif wanted:
            await self._ledger.end_running(run, [(wanted[0], JobStatus.FAILED, failure.reason)])

    async def _fail_leftovers(self, run: Run) -> None:
        """After a bug in the worker: fail what the batch still holds, and never raise."""
        try:
            await self._ledger.end_running(run, [(job_id, JobStatus.FAILED, _BUG_REASON) for job_id in run.live])
        except Exception:
            log.exception("could not fail jobs=%s after a worker error", ",".join(run.live))


@dataclass(frozen=True)
class _Failure:
    """What the worker keeps of a failed call: never the exception, whose frames hold the pipeline's tensors."""

    reason: str  # for the user
    summary: str  # for the log
    out_of_memory: bool

    @classmethod
    def of(cls, error: Exception, members: list[str]) -> _Failure:
        """Log an unexpected `error` with its traceback, then let go of the frames it holds."""
        if not isinstance(error, VideoBotError):
            log.error("generation raised an unexpected error jobs=%s", ",".join(members), exc_info=error)
        # Ended frames on the traceback (the pipeline's, and the awaiting one holding the future that holds
        # `error`, a cycle) keep their locals alive: clear them so the memory is free without waiting for gc.
        traceback.clear_frames(error.__traceback__)
        return cls(_failure_reason(error), str(error), isinstance(error, OutOfMemoryError))


def _failure_reason(error: Exception) -> str:
    if isinstance(error, VideoBotError) and str(error):
        return str(error)
    if isinstance(error, OutOfMemoryError):
        return "the GPU ran out of memory making this video; try fewer frames or a smaller size"
    return _BUG_REASON
