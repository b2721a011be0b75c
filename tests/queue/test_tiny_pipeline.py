"""The queue in front of the real diffusers generator (tiny random weights, CPU), MP4s and CUDA OOMs included.

CUDA running out of memory is simulated by a pre-forward hook on the UNet that raises torch's own
`torch.cuda.OutOfMemoryError`, so the generator's translation to `OutOfMemoryError` is exercised too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from generation.config import EngineSettings
from generation.queue.gpu import mp4_encoder
from generation.queue.interface import JobFailed, JobFinished, JobStarted
from tests.fakes.gate import Gate
from tests.fixtures.tiny_pipeline import TINY_SIZE
from tests.queue.conftest import MakeQueue, events_of, spec

if TYPE_CHECKING:
    from generation.generator import DiffusersGenerator

torch = pytest.importorskip("torch")


def tiny_spec(owner: str, prompt: str = "a tiny cat", steps: int = 2) -> Any:
    """A job the tiny model runs in a fraction of a second."""
    return spec(owner, prompt=prompt, width=TINY_SIZE, height=TINY_SIZE, num_frames=4, steps=steps)


class UNetOutOfMemory:
    """Makes the UNet raise CUDA's out-of-memory error when a call holds more than `max_requests`."""

    def __init__(self, generator: DiffusersGenerator, max_requests: int, times: int = 1_000) -> None:
        self.max_requests = max_requests
        self.times = times
        assert generator.pipeline is not None
        self._handle = generator.pipeline.pipe.unet.register_forward_pre_hook(self._hook)

    def _hook(self, module: object, args: tuple[Any, ...]) -> None:
        requests = args[0].shape[0] // 2  # classifier-free guidance doubles the batch
        if requests > self.max_requests and self.times > 0:
            self.times -= 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    def remove(self) -> None:
        self._handle.remove()


@pytest.fixture
def batching_generator(tiny_generator: DiffusersGenerator, tiny_engine_settings: EngineSettings) -> DiffusersGenerator:
    """The session's loaded tiny pipeline behind a generator that accepts batches of 2."""
    from generation.generator import DiffusersGenerator

    settings = tiny_engine_settings.model_copy(update={"max_batch_size": 2})
    return DiffusersGenerator(settings, pipeline=tiny_generator.pipeline)


@pytest.fixture
def held_unet(tiny_generator: DiffusersGenerator, make_queue: MakeQueue) -> Iterator[Gate]:
    """Every UNet call waits at the gate until the test lets it on.

    Depends on `make_queue` so that it is torn down first: the gate opens before the queues close.
    """
    gate = Gate(held=True)

    def wait_at_gate(module: object, args: tuple[Any, ...]) -> None:  # None: the call's arguments stay as they are
        gate.pass_through()

    assert tiny_generator.pipeline is not None
    handle = tiny_generator.pipeline.pipe.unet.register_forward_pre_hook(wait_at_gate)
    yield gate
    gate.open()
    handle.remove()


@pytest.fixture
def oom_once(tiny_generator: DiffusersGenerator) -> Iterator[UNetOutOfMemory]:
    """The first UNet call, of any size, runs out of memory."""
    hook = UNetOutOfMemory(tiny_generator, max_requests=0, times=1)
    yield hook
    hook.remove()


@pytest.fixture
def oom_when_batched(tiny_generator: DiffusersGenerator) -> Iterator[UNetOutOfMemory]:
    """Every UNet call of more than one request runs out of memory."""
    hook = UNetOutOfMemory(tiny_generator, max_requests=1)
    yield hook
    hook.remove()


async def test_tiny_pipeline_jobs_end_as_playable_mp4s(
    make_queue: MakeQueue, tiny_generator: DiffusersGenerator, tiny_engine_settings: EngineSettings
) -> None:
    from generation.encode import probe

    queue = await make_queue(tiny_generator, encoder=mp4_encoder(tiny_engine_settings))

    finished = (await events_of(await queue.submit(tiny_spec("ann"))))[-1]

    assert isinstance(finished, JobFinished)
    video = probe(finished.result.video.path)
    assert (video.width, video.height, video.num_frames) == (TINY_SIZE, TINY_SIZE, 4)


async def test_cuda_out_of_memory_fails_only_that_job(
    make_queue: MakeQueue, tiny_generator: DiffusersGenerator, oom_once: UNetOutOfMemory
) -> None:
    queue = await make_queue(tiny_generator)
    unlucky = await queue.submit(tiny_spec("ann"))
    next_one = await queue.submit(tiny_spec("bob"))

    failed = (await events_of(unlucky))[-1]

    assert isinstance(failed, JobFailed)
    assert "ran out of memory" in failed.reason
    assert "try fewer frames or a smaller size" in failed.reason
    assert isinstance((await events_of(next_one))[-1], JobFinished)


async def test_cuda_out_of_memory_in_a_batch_is_retried_one_by_one(
    make_queue: MakeQueue,
    batching_generator: DiffusersGenerator,
    oom_when_batched: UNetOutOfMemory,
    held_unet: Gate,
) -> None:
    queue = await make_queue(batching_generator, batch_size=2)
    await queue.submit(tiny_spec("zed"))
    await held_unet.arrived(1)  # zed's job runs while the next two gather into a batch
    pair = [await queue.submit(tiny_spec("ann")), await queue.submit(tiny_spec("bob"))]
    held_unet.open()

    results = [await events_of(handle) for handle in pair]

    for events in results:
        assert isinstance(events[-1], JobFinished)
        assert [e.batch_size for e in events if isinstance(e, JobStarted)] == [2, 1]
