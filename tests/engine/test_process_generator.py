"""`ProcessGenerator`: the same generator behind a pipe, in a child process with a GIL of its own."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from generation.config import EngineSettings
from generation.errors import GenerationCancelled, GenerationError, OutOfMemoryError
from generation.process_generator import CHILD_NICENESS, ProcessGenerator
from generation.protocol import CancelToken, ProgressCallback
from generation.queue.interface import JobFinished, JobProgress, JobSpec
from generation.queue.local import LocalJobQueue
from generation.queue.settings import QueueSettings
from generation.request import VideoRequest
from generation.results import GeneratedClip
from tests.fakes.generator import FakeGenerator
from tests.patience import PATIENCE_S


class DyingGenerator(FakeGenerator):
    """Dies on "DIE" half-way through its steps, as a native crash would take the process down."""

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        def progress(step: int, total: int) -> None:
            if on_progress is not None:
                on_progress(step, total)
            if any("DIE" in request.prompt for request in requests) and step == total // 2:
                os._exit(3)

        return super().generate(requests, progress, cancel)


class PidGenerator(FakeGenerator):
    """Stamps the process id that made each clip into its seed, to show where the work ran."""

    def finish(self, clip: GeneratedClip) -> GeneratedClip:
        return dataclasses.replace(clip, seed=os.getpid())


class NicenessGenerator(FakeGenerator):
    """Stamps the nice value of the process that made each clip into its seed."""

    def finish(self, clip: GeneratedClip) -> GeneratedClip:
        return dataclasses.replace(clip, seed=os.getpriority(os.PRIO_PROCESS, 0))


def request(prompt: str = "a cat", **fields: object) -> VideoRequest:
    return VideoRequest(prompt, **({"width": 64, "height": 64, "num_frames": 2, "steps": 4, "seed": 7} | fields))  # type: ignore[arg-type]


@pytest.fixture
def child() -> Iterator[functools.partial[ProcessGenerator]]:
    made: list[ProcessGenerator] = []

    def make(factory: object, max_batch_size: int = 4) -> ProcessGenerator:
        generator = ProcessGenerator(factory, max_batch_size=max_batch_size)  # type: ignore[arg-type]
        made.append(generator)
        return generator

    yield functools.partial(make)
    for generator in made:
        generator.close()


def test_the_child_runs_at_a_lower_cpu_priority_than_the_bot(
    child: functools.partial[ProcessGenerator],
) -> None:
    generator = child(NicenessGenerator)

    [clip] = generator.generate([request()])

    assert clip.seed == min(19, os.getpriority(os.PRIO_PROCESS, 0) + CHILD_NICENESS)


def test_generation_runs_in_a_child_process_and_returns_the_same_clips(
    child: functools.partial[ProcessGenerator],
) -> None:
    generator = child(FakeGenerator)

    [clip] = generator.generate([request()])

    [expected] = FakeGenerator().generate([request()])
    assert clip.seed == expected.seed
    assert np.array_equal(clip.frames, expected.frames)
    [stamped] = child(PidGenerator).generate([request()])
    assert stamped.seed != os.getpid()


def test_progress_comes_back_step_by_step_in_order(child: functools.partial[ProcessGenerator]) -> None:
    generator = child(FakeGenerator)
    steps: list[tuple[int, int]] = []

    generator.generate([request(steps=5)], on_progress=lambda step, total: steps.append((step, total)))

    assert steps == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_loading_happens_once_until_the_child_is_replaced(child: functools.partial[ProcessGenerator]) -> None:
    generator = child(FakeGenerator)

    generator.load()

    assert generator.load() == 0.0


def test_a_cancellation_reaches_the_call_running_in_the_child(child: functools.partial[ProcessGenerator]) -> None:
    generator = child(functools.partial(FakeGenerator, hold_steps=True))  # every step waits for a release
    token = CancelToken()
    token.cancel()
    steps: list[int] = []

    with pytest.raises(GenerationCancelled):
        generator.generate([request()], on_progress=lambda step, total: steps.append(step), cancel=token)

    assert steps == []  # the held first step noticed it; nothing ran


def test_a_halt_ends_a_model_load_in_the_child_and_refuses_every_later_call(
    child: functools.partial[ProcessGenerator],
) -> None:
    generator = child(functools.partial(FakeGenerator, hold_load=True))  # the load never ends by itself
    with ThreadPoolExecutor(max_workers=1) as gpu_thread:
        loading = gpu_thread.submit(generator.load)

        generator.halt()  # before the child started, or while it loads: the same for the caller

        with pytest.raises(GenerationCancelled, match="shutting down"):
            loading.result(timeout=PATIENCE_S)
    with pytest.raises(GenerationCancelled):
        generator.generate([request()])


@pytest.mark.parametrize(("prompt", "raised"), [("FAIL", GenerationError), ("OOM", OutOfMemoryError)])
def test_errors_cross_as_they_were_raised(
    child: functools.partial[ProcessGenerator], prompt: str, raised: type[Exception]
) -> None:
    generator = child(FakeGenerator)

    with pytest.raises(raised):
        generator.generate([request(prompt)])

    assert generator.generate([request()])  # still usable


def test_a_child_that_dies_fails_the_call_and_is_replaced_for_the_next(
    child: functools.partial[ProcessGenerator],
) -> None:
    generator = child(DyingGenerator)

    with pytest.raises(GenerationError, match=r"stopped unexpectedly \(exit code 3\)"):
        generator.generate([request("DIE")])

    [clip] = generator.generate([request()])
    assert clip.seed == 7


async def test_a_queue_runs_its_jobs_through_the_gpu_process(tmp_path: Path) -> None:
    engine = EngineSettings(output_dir=tmp_path / "videos")
    settings = QueueSettings(database_path=tmp_path / "jobs.sqlite3")
    generator = ProcessGenerator(PidGenerator, max_batch_size=1)
    queue = LocalJobQueue(settings, engine, generator)
    await queue.start()
    try:
        handle = await queue.submit(JobSpec(request(), owner_id="ann"))
        events = [event async for event in handle.events()]
    finally:
        await queue.close()
        generator.close()

    [done] = [event for event in events if isinstance(event, JobFinished)]
    assert done.result.seed != os.getpid()  # made in the child
    assert done.result.video.path.stat().st_size > 0
    assert [event.step for event in events if isinstance(event, JobProgress)] == [1, 2, 3, 4]
