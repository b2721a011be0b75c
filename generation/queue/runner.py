"""The one worker task: takes batches from the fair line and sees each job through to its end.

It talks to the queue only through `JobSource` (`source.py`), so the same loop can drive a queue in
this process or one served over a network. The loop never dies: each batch is wrapped, and a bug fails
that batch's jobs (logged with their ids) while the worker goes on to the next. The blocking work
happens on the `GpuThread`.

* Attempts are saved before they run, so a crash is visible on the next start (see `store`).
* A failed batch (out of memory or anything else) is split in halves and each half retried, down to
  single jobs, so a job fails only for its own sake. After an out-of-memory error the batch size for
  that shape is halved for the rest of the process.
* Cancelling one job of a batch does not disturb the others: the queue ends it at once and its clip is
  discarded; only when nobody in a running call wants its result does the call stop, at its next step.
* The watchdog fails a call that runs past `job_timeout_s` (on the clock) at once and cancels its
  token; the thread stops at its next step, and the next batch starts only then (there is one GPU).
* On shutdown the running call is interrupted and its jobs are put back in line, not counted as a crash.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Hashable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from generation.clock import Clock, within
from generation.errors import EngineError, GenerationCancelled, GenerationTimeout, OutOfMemoryError
from generation.queue.gpu import BatchOutcome, Encoded, GpuThread
from generation.queue.jobfiles import job_file
from generation.queue.reasons import BUG, NOT_ENCODED, OUT_OF_MEMORY, TIMED_OUT
from generation.queue.run import Attempt, Run
from generation.queue.source import BatchLimits, Cancelled, Failed, JobSource, Succeeded

log = logging.getLogger(__name__)

STOP_WAIT_S: Final = 30.0
"""How long shutdown waits for an interrupted call to reach its next step before abandoning the thread."""


class JobRunner:
    """Runs what the fair line hands it, one batch at a time, until the source stops handing out work."""

    def __init__(
        self,
        source: JobSource,
        gpu: GpuThread,
        clock: Clock,
        *,
        batch_size: int,
        timeout_s: float,
        output_dir: Path,
    ) -> None:
        self._source = source
        self._gpu = gpu
        self._clock = clock
        self._batch_size = batch_size
        self._timeout_s = timeout_s
        self._output_dir = output_dir
        self._oom_batch_limits: dict[Hashable, int] = {}
        self._run: Run | None = None
        self._stopping = False
        source.on_cancel(self._stop_call_of)

    def interrupt(self) -> None:
        """Stop the running call at its next step; its jobs are put back in line for the next start.

        With no batch running, a model load in progress is stopped (where the generator can be halted).
        """
        self._stopping = True
        run = self._run
        if run is None:
            self._gpu.halt()
            return
        run.interrupted = True
        if run.attempt is not None:
            run.attempt.token.cancel()

    async def abandon(self) -> None:
        """Put back what the running batch still holds; its call would not stop, so it is halted where the
        generator allows (a GPU process is killed) and otherwise left to its thread."""
        self._gpu.halt()
        run = self._run
        if run is not None:
            await self._put_back(run, list(run.live))

    async def wind_down(self, task: asyncio.Task[None], grace_s: float) -> None:
        """Shut down `task` (this worker's `serve`): let the running call finish within `grace_s`, then
        interrupt it; if it does not reach its next step within `STOP_WAIT_S`, abandon its thread.

        With no batch running there is nothing to finish: a model still loading is stopped at once.
        """
        loading = self._run is None and not self._gpu.loaded
        done = await within(self._clock, task, 0.0 if loading else grace_s)
        if not done:
            if loading:
                log.info("shutdown: stopping the model load; no video is running")
            else:
                log.warning("shutdown: interrupting the running call after %g s", grace_s)
            self.interrupt()
            done = await within(self._clock, task, STOP_WAIT_S)
        if not done:
            # The generator ignores its token: abandon its thread, but hand its jobs back.
            log.error("shutdown: the GPU thread did not stop within %g s; abandoning it", STOP_WAIT_S)
            task.cancel()
            await self.abandon()

    async def serve(self) -> None:
        """The worker loop; returns once the source hands out no more work and the running batch ended.

        Loads the model first, so the first job does not pay for it; if that fails, each job tries
        again (and fails with the loading error until the model loads).
        """
        try:
            log.info("model loaded load_s=%.1f", await self._gpu.load())
        except Exception:
            if not self._stopping:
                log.exception("model load failed; jobs will retry it")
        while (batch := await self._source.take(BatchLimits(self._batch_size, self._oom_batch_limits))) is not None:
            run = self._run = Run(batch)
            run.interrupted = self._stopping  # taken as the shutdown began: back in line, untouched
            try:
                await self._execute(run, list(run.live))
            except Exception:
                log.exception("worker error job_ids=%s", ",".join(run.live))
                await self._fail_leftovers(run)
            finally:
                self._run = None

    def _stop_call_of(self, job_id: str) -> None:
        """The queue says nobody wants the running call's result any more: stop it at its next step."""
        run = self._run
        if run is not None and run.attempt is not None and job_id in run.attempt.members:
            run.attempt.token.cancel()

    async def _execute(self, run: Run, members: list[str]) -> None:
        """One generate call for the members still wanted; on failure, retry in halves."""
        await self._end_unwanted(run, members)
        members = [job_id for job_id in members if job_id in run.live]
        if not members:
            return
        if run.interrupted:
            await self._put_back(run, members)
            return
        attempt = run.begin(members)
        await self._source.begin(members)
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
        if attempt.token.cancelled or not any(map(self._source.wanted, attempt.members)):
            # Cancelled or interrupted while the attempt was being saved.
            raise GenerationCancelled("cancelled")
        future = self._gpu.run(
            [run.requests[job_id] for job_id in attempt.members],
            [job_file(self._output_dir, job_id, ".mp4") for job_id in attempt.members],
            token=attempt.token,
            on_progress=lambda step, total: self._on_progress(run, attempt, step, total),
            wanted=lambda index: self._source.wanted(attempt.members[index]),
        )
        if await within(self._clock, future, self._timeout_s):
            return future.result()
        timeout = GenerationTimeout(TIMED_OUT.format(limit_s=f"{self._timeout_s:g}"))
        attempt.timed_out = True
        attempt.token.cancel()
        log.warning("watchdog: call over %g s job_ids=%s", self._timeout_s, ",".join(attempt.members))
        for job_id in attempt.members:
            if run.end(job_id):
                await self._source.end(job_id, Failed(str(timeout)), wait=False)
        # The thread stops at its next step; nothing else may use the GPU before it has.
        await asyncio.wait({future})
        if not future.cancelled():
            future.exception()  # what the late call raised is moot; retrieving it keeps asyncio quiet
        raise timeout

    def _on_progress(self, run: Run, attempt: Attempt, step: int, total: int) -> None:
        if attempt.timed_out or run.attempt is not attempt:
            return
        self._source.progress(attempt.members, step, total)

    async def _after_success(self, run: Run, attempt: Attempt, outcome: BatchOutcome) -> None:
        encoded = [clip for clip in outcome.clips if isinstance(clip, Encoded)]
        if encoded:  # a call that encoded nothing (all its members cancelled) is not a typical run
            # A model the call loaded first (a swap) is no part of what this shape costs to run.
            run_s = outcome.run_s - encoded[0].timings.load_s
            after_s = run_s - encoded[0].timings.denoise_s
            self._source.learn(run.shape, attempt.cost, run_s, after_s)
        for job_id, clip in zip(attempt.members, outcome.clips, strict=True):
            if not run.end(job_id):
                continue
            if not self._source.wanted(job_id):
                if isinstance(clip, Encoded):
                    clip.video.path.unlink(missing_ok=True)
                await self._source.end(job_id, Cancelled(), wait=False)
            elif isinstance(clip, Encoded):
                timings = replace(clip.timings, load_s=clip.timings.load_s + outcome.load_s)
                ending = Succeeded(clip.video, clip.seed, timings, batch_size=len(attempt.members))
                await self._source.end(job_id, ending, wait=False)
            else:
                reason = clip.reason if clip else NOT_ENCODED
                await self._source.end(job_id, Failed(reason), wait=False)

    async def _after_error(self, run: Run, attempt: Attempt, failure: _Failure) -> None:
        if attempt.timed_out:
            return
        if run.interrupted:
            await self._put_back(run, attempt.members)
            return
        await self._end_unwanted(run, attempt.members)
        wanted = [job_id for job_id in attempt.members if job_id in run.live]
        if len(wanted) > 1:
            if failure.out_of_memory:
                self._oom_batch_limits[run.shape] = max(1, len(attempt.members) // 2)
            log.warning("batch of %d failed (%s); retrying in halves job_ids=%s", len(wanted), failure.summary, wanted)
            half = (len(wanted) + 1) // 2
            await self._execute(run, wanted[:half])
            await self._execute(run, wanted[half:])
        elif wanted and run.end(wanted[0]):
            await self._source.end(wanted[0], Failed(failure.reason), wait=False)

    async def _end_unwanted(self, run: Run, members: list[str]) -> None:
        """End as cancelled the members nobody wants any more (the queue may have ended them already)."""
        for job_id in members:
            if job_id in run.live and not self._source.wanted(job_id):
                run.end(job_id)
                await self._source.end(job_id, Cancelled(), wait=False)

    async def _put_back(self, run: Run, members: list[str]) -> None:
        back = [job_id for job_id in members if run.end(job_id)]
        await self._source.put_back(back)

    async def _fail_leftovers(self, run: Run) -> None:
        """After a bug in the worker: fail what the batch still holds, and never raise."""
        try:
            for job_id in list(run.live):
                run.end(job_id)
                await self._source.end(job_id, Failed(BUG), wait=False)
        except Exception:
            log.exception("could not fail job_ids=%s after a worker error", ",".join(run.live))


@dataclass(frozen=True)
class _Failure:
    """What the worker keeps of a failed call: never the exception, whose frames hold the pipeline's tensors."""

    reason: str  # for the user
    summary: str  # for the log
    out_of_memory: bool

    @classmethod
    def of(cls, error: Exception, members: list[str]) -> _Failure:
        """Log an unexpected `error` with its traceback, then let go of the frames it holds."""
        if not isinstance(error, EngineError):
            log.error("generation raised an unexpected error jobs=%s", ",".join(members), exc_info=error)
        # Ended frames on the traceback (the pipeline's, and the awaiting one holding the future that holds
        # `error`, a cycle) keep their locals alive: clear them so the memory is free without waiting for gc.
        traceback.clear_frames(error.__traceback__)
        return cls(_failure_reason(error), str(error), isinstance(error, OutOfMemoryError))


def _failure_reason(error: Exception) -> str:
    if isinstance(error, EngineError) and str(error):
        return str(error)
    if isinstance(error, OutOfMemoryError):
        return OUT_OF_MEMORY
    return BUG
