"""A member's weight as the queue shows it, on both backends: an owner of weight 2 has two places in
each round of the line the members see, and everyone else still one."""

from __future__ import annotations

import dataclasses

from generation.queue.allowance import Allowance
from generation.queue.interface import JobSpec, JobStatus
from tests.fakes.generator import FakeGenerator
from tests.queue.conftest import MakeQueue, spec


def weighed(job: JobSpec, weight: int) -> JobSpec:
    """`job` with its owner's weight in the fair order."""
    return dataclasses.replace(job, allowance=Allowance(weight=weight))


async def test_an_owner_of_weight_two_has_two_places_in_each_round(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator)
    await queue.submit(spec("zed"))
    await generator.steps.arrived(1)  # zed's job runs: the others wait in line
    ann = [(await queue.submit(weighed(spec("ann"), 2))).info.job_id for _ in range(4)]
    bob = [(await queue.submit(spec("bob"))).info.job_id for _ in range(2)]
    cid = [(await queue.submit(spec("cid"))).info.job_id for _ in range(2)]

    waiting = [(info.job_id, info.position) for info in await queue.active() if info.status is JobStatus.QUEUED]

    rounds = [ann[0], ann[1], bob[0], cid[0], ann[2], ann[3], bob[1], cid[1]]
    assert waiting == [(job_id, place) for place, job_id in enumerate(rounds, 1)]
    assert (await queue.get(ann[3])).position == 6


async def test_a_new_weight_moves_the_owners_waiting_jobs_at_once(make_queue: MakeQueue) -> None:
    generator = FakeGenerator(hold_steps=True)
    queue = await make_queue(generator)
    await queue.submit(spec("zed"))
    await generator.steps.arrived(1)
    ann = [(await queue.submit(spec("ann"))).info.job_id for _ in range(2)]
    bob = [(await queue.submit(spec("bob"))).info.job_id for _ in range(2)]

    latest = await queue.submit(weighed(spec("ann"), 3))  # a perk granted now: ann's whole line has it

    assert latest.info.position == 3
    places = {info.job_id: info.position for info in await queue.active() if info.status is JobStatus.QUEUED}
    assert places == {ann[0]: 1, ann[1]: 2, latest.info.job_id: 3, bob[0]: 4, bob[1]: 5}
