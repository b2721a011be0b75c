"""Same-shape jobs at the head of the line share one generate call; nobody is overtaken for it."""

from __future__ import annotations

from generation.queue.interface import JobFinished, JobStarted, JobStatus, Person
from tests.fakes.generator import FakeGenerator
from tests.queue.conftest import MakeQueue, events_of, first, spec


async def test_batches_are_runs_of_same_shape_jobs_in_fair_order(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator, batch_size=4)
    await queue.submit(spec("zed", prompt="zed"))
    await generator.steps.arrived(1)  # zed's job runs while the others gather
    handles = [
        await queue.submit(spec("ann", prompt="ann 1")),
        await queue.submit(spec("bob", prompt="bob 1")),
        await queue.submit(spec("cat", prompt="cat 1", width=128)),
        await queue.submit(spec("dan", prompt="dan 1")),
        await queue.submit(spec("ann", prompt="ann 2")),
    ]

    generator.steps.open()
    for handle in handles:
        await events_of(handle)

    assert [[r.prompt for r in call] for call in generator.calls] == [
        ["zed"],
        ["ann 1", "bob 1"],
        ["cat 1"],
        ["dan 1", "ann 2"],
    ]


async def test_each_job_of_a_batch_gets_its_own_seed_and_video(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator, batch_size=4)
    await queue.submit(spec("zed"))
    await generator.steps.arrived(1)  # zed's job runs while the others gather
    handles = [await queue.submit(spec(owner)) for owner in ("ann", "bob", "cat")]
    generator.steps.open()

    finished = [(await events_of(handle))[-1] for handle in handles]

    assert all(isinstance(e, JobFinished) for e in finished)
    results = [e.result for e in finished if isinstance(e, JobFinished)]
    assert len({r.seed for r in results}) == 3
    assert len({r.video.path for r in results}) == 3
    starts = [await first(handle, JobStarted) for handle in handles]
    assert {s.batch_size for s in starts} == {3}


async def test_cancelling_one_job_of_a_batch_leaves_the_others_running(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator, batch_size=2)
    await queue.submit(spec("zed"))
    await generator.steps.arrived(1)  # zed's job runs while the next two gather
    leaving = await queue.submit(spec("ann"))
    staying = await queue.submit(spec("bob"))
    generator.steps.release(3)  # zed's 3 steps
    await generator.steps.arrived(3 + 1)  # the batch is held at its first step

    info = await leaving.cancel(by=Person("ann"))

    assert (info.status, info.cancelled_by) == (JobStatus.CANCELLED, Person("ann"))
    generator.steps.open()
    assert isinstance((await events_of(staying))[-1], JobFinished)
    assert not (await queue.get(leaving.info.job_id)).video_path
    assert [len(call) for call in generator.calls] == [1, 2]


async def test_batch_size_defaults_to_one(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_load=True)
    queue = await make_queue(generator)
    handles = [await queue.submit(spec(owner)) for owner in ("ann", "bob", "cat")]
    generator.loading.open()  # all three wait before the worker takes its first batch

    for handle in handles:
        await events_of(handle)

    assert [len(call) for call in generator.calls] == [1, 1, 1]
