"""A job that goes wrong fails alone, with a reason a user can read, and the worker keeps serving."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from generation.errors import EncodeError
from generation.protocol import CancelToken, ProgressCallback
from generation.queue.interface import JobFailed, JobFinished, JobStarted, JobStatus
from generation.request import VideoRequest
from generation.results import GeneratedClip, VideoFile
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FakeGenerator
from tests.queue.conftest import MakeQueue, events_of, spec, stub_encoder


class Latents:
    """Stands in for the CUDA tensors a pipeline's frames hold while it runs."""


class LatentsGenerator(FakeGenerator):
    """Runs each call in a frame holding `Latents`, as a pipeline does; notes whether the last call's survive."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.previous_latents_alive: list[bool] = []
        self._latents: weakref.ref[Latents] | None = None

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        self.previous_latents_alive.append(self._latents is not None and self._latents() is not None)
        latents = Latents()
        self._latents = weakref.ref(latents)
        return super().generate(requests, on_progress, cancel)


@pytest.fixture
def no_cycle_collection() -> Iterator[None]:
    """Memory must come back by reference counting alone, not whenever the cycle collector happens to run."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class BuggyGenerator(FakeGenerator):
    """Raises a plain `RuntimeError` (a bug, not a generation error) for prompts containing "BUG"."""

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        if any("BUG" in request.prompt for request in requests):
            raise RuntimeError("index out of range in the sampler")
        return super().generate(requests, on_progress, cancel)


async def test_failing_job_fails_alone_and_the_next_one_runs(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    failing = await queue.submit(spec("ann", prompt="please FAIL"))
    next_one = await queue.submit(spec("bob"))

    reason = "the fake generator was asked to fail"
    assert (await events_of(failing))[-1] == JobFailed(failing.info.job_id, reason)
    assert isinstance((await events_of(next_one))[-1], JobFinished)
    info = await queue.get(failing.info.job_id)
    assert (info.status, info.error) == (JobStatus.FAILED, reason)


async def test_out_of_memory_on_a_single_job_fails_it_with_a_readable_reason(make_queue: MakeQueue) -> None:
    queue = await make_queue()

    handle = await queue.submit(spec("ann", prompt="OOM please"))

    last = (await events_of(handle))[-1]
    assert isinstance(last, JobFailed)
    assert "ran out of memory" in last.reason


async def test_out_of_memory_on_a_batch_retries_in_smaller_batches(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True, oom_min_batch=2)
    queue = await make_queue(generator, batch_size=2)
    await queue.submit(spec("zed"))
    await generator.steps.arrived(1)  # zed's job runs alone while the next two gather into a batch
    big = await queue.submit(spec("ann", prompt="OOM when batched"))
    small = await queue.submit(spec("bob"))
    generator.steps.open()

    big_events, small_events = await events_of(big), await events_of(small)

    assert isinstance(big_events[-1], JobFinished)
    assert isinstance(small_events[-1], JobFinished)
    assert [e.batch_size for e in big_events if isinstance(e, JobStarted)] == [2, 1]
    assert [len(call) for call in generator.calls] == [1, 2, 1, 1]
    assert (await queue.get(big.info.job_id)).attempts == 2


@pytest.mark.usefixtures("no_cycle_collection")
async def test_a_failed_batchs_memory_is_released_before_its_halves_are_retried(make_queue: MakeQueue) -> None:
    generator = LatentsGenerator(hold_steps=True, oom_min_batch=2)
    queue = await make_queue(generator, batch_size=2)
    await queue.submit(spec("zed"))
    await generator.steps.arrived(1)  # zed's job runs alone while the next two gather into a batch
    big = await queue.submit(spec("ann", prompt="OOM when batched"))
    small = await queue.submit(spec("bob"))
    generator.steps.open()

    await events_of(big)
    await events_of(small)

    assert [len(call) for call in generator.calls] == [1, 2, 1, 1]
    assert generator.previous_latents_alive == [False, False, False, False]


async def test_a_failing_job_in_a_batch_does_not_fail_its_batch_mates(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator, batch_size=2)
    await queue.submit(spec("zed"))
    await generator.steps.arrived(1)  # zed's job runs alone while the next two gather into a batch
    failing = await queue.submit(spec("ann", prompt="FAIL here"))
    fine = await queue.submit(spec("bob"))
    generator.steps.open()

    assert isinstance((await events_of(failing))[-1], JobFailed)
    assert isinstance((await events_of(fine))[-1], JobFinished)
    assert [len(call) for call in generator.calls] == [1, 2, 1, 1]  # the batch, then each half alone


async def test_watchdog_fails_a_job_past_the_time_limit_and_the_next_one_runs(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator, job_timeout_s=300.0)
    stuck = await queue.submit(spec("ann"))
    next_one = await queue.submit(spec("bob"))
    await generator.steps.arrived(1)
    await clock.wait_for_sleepers(1)  # the watchdog

    clock.advance(300.0)
    last = (await events_of(stuck))[-1]

    assert last == JobFailed(stuck.info.job_id, "the video took longer than the 300 s limit and was stopped")
    assert generator.steps.passed == 0  # stopped where it was held
    generator.steps.open()
    assert isinstance((await events_of(next_one))[-1], JobFinished)
    assert (await queue.get(stuck.info.job_id)).error == last.reason


async def test_encoding_failure_fails_that_job_only(make_queue: MakeQueue) -> None:
    def picky_encoder(clip: GeneratedClip, path: Path) -> VideoFile:
        if "unencodable" in clip.request.prompt:
            raise EncodeError("cannot encode 2 frames of 64×64")
        return stub_encoder(clip, path)

    queue = await make_queue(encoder=picky_encoder)
    bad = await queue.submit(spec("ann", prompt="unencodable"))
    good = await queue.submit(spec("bob"))

    assert (await events_of(bad))[-1] == JobFailed(bad.info.job_id, "cannot encode 2 frames of 64×64")
    assert isinstance((await events_of(good))[-1], JobFinished)


async def test_unexpected_error_is_logged_with_the_job_id_and_told_generically(
    make_queue: MakeQueue, caplog: pytest.LogCaptureFixture
) -> None:
    queue = await make_queue(BuggyGenerator())
    caplog.set_level(logging.ERROR, logger="generation.queue")
    buggy = await queue.submit(spec("ann", prompt="BUG"))
    next_one = await queue.submit(spec("bob"))

    last = (await events_of(buggy))[-1]

    assert isinstance(last, JobFailed)
    assert "something went wrong" in last.reason
    assert "index out of range" not in last.reason
    assert any(buggy.info.job_id in r.getMessage() and r.exc_info for r in caplog.records)
    assert isinstance((await events_of(next_one))[-1], JobFinished)
