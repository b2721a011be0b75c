"""`JobQueue.models()` while each deployment serves one model: that model, named after its profile, with
the GPUs that serve it (in-process the one; in Redis every live worker)."""

from __future__ import annotations

import pytest

from generation.profiles import SEED
from generation.queue.interface import ServedModel
from tests.queue.conftest import MakeQueue


async def test_the_one_model_is_served_under_its_profiles_name_by_its_gpu(make_queue: MakeQueue) -> None:
    queue = await make_queue()

    assert await queue.models() == (ServedModel(SEED.name, SEED, workers=1),)


@pytest.mark.redis_only
async def test_in_redis_a_model_whose_workers_all_stopped_is_listed_with_none(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    await queue.host.close()

    assert await queue.models() == (ServedModel(SEED.name, SEED, workers=0),)
