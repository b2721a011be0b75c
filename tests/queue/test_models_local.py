"""Several models on one GPU, in-process: `MODELS` = a tiny seed model and a tiny LTX-Video, both real
pipelines with random weights, behind the real `ModelShelf` that swaps them (built as `diffusers_shelf`
builds it).

The first job holds the GPU at its UNet while the others queue, so the line they form is the test's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from generation.config import EngineSettings, OffloadMode
from generation.errors import InvalidRequestError
from generation.model_shelf import ModelShelf
from generation.queue.interface import JobFinished, JobHandle, JobSpec, JobStarted
from generation.queue.local import LocalJobQueue
from generation.queue.scheduler import FairScheduler, Ticket
from generation.queue.settings import QueueSettings
from generation.request import VideoRequest
from tests.fakes.clock import FakeClock
from tests.fakes.gate import Gate
from tests.queue.conftest import events_of, stub_encoder
from tests.queue.test_scheduler_models import swaps

torch = pytest.importorskip("torch")

SIZE = 64  # both tiny pipelines take it: a multiple of 32, as LTX-Video needs
FRAMES = {"seed": 16, "ltx": 17}  # each allowed by its model's rule (any count; 8k+1)


def job(owner: str, model: str | None, frames: int | None = None) -> JobSpec:
    frames = frames or FRAMES[model or "seed"]
    request = VideoRequest("a tiny cat", width=SIZE, height=SIZE, num_frames=frames, steps=2, model=model)
    return JobSpec(request, owner_id=owner, group_id="g1")


@pytest.fixture
def engine(tiny_model_dir: Path, tiny_ltx_dir: Path, tmp_path: Path) -> EngineSettings:
    return EngineSettings(
        _env_file=None,  # type: ignore[call-arg]
        models=f"seed={tiny_model_dir},ltx={tiny_ltx_dir}",
        model_variant=None,
        torch_dtype="float32",
        device="cpu",
        offload=OffloadMode.NONE,
        output_dir=tmp_path / "videos",
    )


@pytest.fixture
def generators(engine: EngineSettings) -> dict[str, Any]:
    """One real generator per served model, by name."""
    from generation.generator import DiffusersGenerator

    return {entry.name: DiffusersGenerator(engine.for_model(entry)) for entry in engine.served_models}


@pytest.fixture
def shelf(generators: dict[str, Any]) -> ModelShelf:
    """The generator of a `MODELS` deployment, its default model loaded as the worker would."""
    shelf = ModelShelf(generators)
    shelf.load()
    return shelf


@pytest.fixture
def held_seed_unet(generators: dict[str, Any]) -> Iterator[Gate]:
    """The loaded seed model's UNet waits at the gate on every call (a swap drops it with its pipeline)."""
    gate = Gate(held=True)
    pipeline = generators["seed"].pipeline
    handle = pipeline.pipe.unet.register_forward_pre_hook(lambda module, args: gate.pass_through() and None)
    yield gate
    gate.open()
    handle.remove()


@pytest.fixture
async def queue(
    engine: EngineSettings, shelf: ModelShelf, held_seed_unet: Gate, tmp_path: Path
) -> AsyncIterator[LocalJobQueue]:
    settings = QueueSettings(database_path=tmp_path / "jobs.sqlite3", queue_max_per_user=5, video_retention_h=0)
    queue = LocalJobQueue(settings, engine, shelf, encoder=stub_encoder, clock=FakeClock())
    await queue.start()
    yield queue
    held_seed_unet.open()
    await queue.close()


async def test_models_are_served_in_the_deployments_order(queue: LocalJobQueue) -> None:
    served = await queue.models()

    assert [(model.name, model.profile.name, model.workers) for model in served] == [
        ("seed", "modelscope-t2v", 1),
        ("ltx", "ltx-video", 1),
    ]


async def test_each_model_makes_its_own_requests_and_a_swap_says_so(
    queue: LocalJobQueue, held_seed_unet: Gate, shelf: ModelShelf, generators: dict[str, Any]
) -> None:
    held_seed_unet.open()
    seed = await queue.submit(job("ann", "seed"))
    ltx = await queue.submit(job("bob", "ltx"))

    seed_events, ltx_events = await events_of(seed), await events_of(ltx)

    for events, frames in ((seed_events, 16), (ltx_events, 17)):
        assert isinstance(events[-1], JobFinished)
        assert events[-1].result.video.num_frames == frames
    assert [e.loading for e in seed_events if isinstance(e, JobStarted)] == [None]
    assert [e.loading for e in ltx_events if isinstance(e, JobStarted)] == ["ltx"]
    assert shelf.held == "ltx"
    assert generators["seed"].pipeline is None  # unloaded to make room


async def test_a_request_naming_no_model_runs_on_the_default_and_is_recorded_so(queue: LocalJobQueue) -> None:
    handle = await queue.submit(job("ann", None))

    assert handle.info.spec.request.model == "seed"


async def test_a_model_not_served_is_refused_naming_those_that_are(queue: LocalJobQueue) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        await queue.submit(job("ann", "quality", frames=16))

    error = refused.value
    assert (error.field, error.value, error.allowed) == ("model", "quality", "one of: seed, ltx")


async def test_a_frame_count_the_models_rule_forbids_is_refused(queue: LocalJobQueue) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        await queue.submit(job("ann", "ltx", frames=16))

    assert refused.value.field == "num_frames"
    assert "8k+1" in refused.value.allowed


async def test_three_members_over_two_models_run_once_each_within_the_swap_bound(
    queue: LocalJobQueue, held_seed_unet: Gate
) -> None:
    running = await queue.submit(job("zed", "seed"))
    await held_seed_unet.arrived(1)  # the GPU is busy: the line below forms behind it
    plan = [("a", "ltx"), ("b", "seed"), ("c", "ltx"), ("a", "seed"), ("b", "ltx"), ("c", "seed")]
    handles = [await queue.submit(job(owner, model)) for owner, model in plan]
    model_of = {handle.info.job_id: model for handle, (_, model) in zip(handles, plan, strict=True)}
    announced = [info.job_id for info in await queue.active() if info.position]
    waiting = dict((await queue.stats()).waiting_by_model)
    started = record_starts(queue)

    held_seed_unet.open()
    endings = [(await events_of(handle))[-1] for handle in (running, *handles)]

    assert all(isinstance(ending, JobFinished) for ending in endings)
    order = [job_id for job_id, _ in (await started)]
    assert sorted(order) == sorted(model_of)  # each once
    assert order == announced
    plain = plain_fair_order(running, handles)
    for job_id in order:
        before, fair_before = order[: order.index(job_id)], plain[: plain.index(job_id)]
        assert len(set(before) - set(fair_before)) <= 1  # one batch (batches of one here)
        assert swaps("seed", [model_of[j] for j in [*before, job_id]]) <= swaps(
            "seed", [model_of[j] for j in [*fair_before, job_id]]
        )
    assert [model_of[job_id] for job_id in order] == ["seed", "ltx", "ltx", "ltx", "seed", "seed"]
    assert [loading for _, loading in await started] == [None, "ltx", None, None, "seed", None]
    assert waiting == {"seed": 3, "ltx": 3}


def record_starts(queue: LocalJobQueue) -> asyncio.Task[list[tuple[str, str | None]]]:
    """The waiting jobs' starts from now on, in order, with the model each loaded first (six of them)."""
    stream = queue.subscribe()

    async def collect() -> list[tuple[str, str | None]]:
        starts: list[tuple[str, str | None]] = []
        async for event in stream:
            if isinstance(event, JobStarted):
                starts.append((event.job_id, event.loading))
                if len(starts) == 6:
                    break
        return starts

    return asyncio.create_task(collect())


def plain_fair_order(running: JobHandle, handles: list[JobHandle]) -> list[str]:
    """The plain per-member round robin of the waiting jobs, no model considered."""
    scheduler = FairScheduler(max_waiting=100, max_per_owner=100)
    for handle in (running, *handles):
        scheduler.push(Ticket(handle.info.job_id, handle.info.spec.owner_id, shape="any"))
    scheduler.pop_batch()
    return [ticket.job_id for ticket in scheduler.fair_order()]
