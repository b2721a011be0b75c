"""After a crash (a child process killed with SIGKILL mid-job) the next start finishes what was pending."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from generation.queue.interface import JobFailed, JobQueued, JobStarted, JobStatus
from generation.queue.settings import QueueSettings
from tests.patience import PATIENCE_S
from tests.queue.conftest import MakeQueue, start_and_drain

# A crash of the process that holds the queue: the Redis backend's crashes are its leases (test_redis_only).
pytestmark = pytest.mark.local_only

ROOT = Path(__file__).resolve().parents[2]


async def crash_while_running(settings: QueueSettings, videos: Path, *jobs: str, batch_size: int = 1) -> str:
    """Run the queue in a child process, submit `jobs` ("owner:prompt"), kill it once one is running.

    Returns the id of the job that was running (the first of its batch).
    """
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.queue.crash_child", str(settings.database_path), str(videos),
        str(batch_size), *jobs, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    try:
        running = (await asyncio.wait_for(child.stdout.readline(), timeout=2 * PATIENCE_S)).decode().strip()
    finally:
        child.kill()
        await child.wait()
    assert running, "the child process ended before any job started"
    return running


async def test_pending_jobs_survive_a_crash_and_run_in_their_original_order(
    make_queue: MakeQueue, queue_settings: QueueSettings, tmp_path: Path
) -> None:
    crashed = await crash_while_running(queue_settings, tmp_path, "ann:one", "bob:two", "cat:three", "ann:four")
    queue = await make_queue(start=False)

    found, events = await start_and_drain(queue)

    assert [i.spec.request.prompt for i in found] == ["one", "two", "three", "four"]
    assert {i.status for i in found} == {JobStatus.QUEUED}
    assert found[0].job_id == crashed
    recovered = [e for e in events if isinstance(e, JobQueued) and e.recovered]
    assert [e.job_id for e in recovered] == [i.job_id for i in found]
    started = [e.job_id for e in events if isinstance(e, JobStarted)]
    assert started == [i.job_id for i in found]  # ann's second job was behind bob's and cat's first
    assert {(await queue.get(i.job_id)).status for i in found} == {JobStatus.SUCCEEDED}
    assert (await queue.get(crashed)).attempts == 2


async def test_a_job_that_crashed_the_worker_three_times_is_failed_not_rerun(
    make_queue: MakeQueue, queue_settings: QueueSettings, tmp_path: Path
) -> None:
    deadly = await crash_while_running(queue_settings, tmp_path, "ann:deadly")
    for _ in range(2):
        assert await crash_while_running(queue_settings, tmp_path) == deadly
    queue = await make_queue(start=False)
    stream = queue.subscribe()

    found = await queue.start()

    reason = "this prompt crashed the worker 3 times, so it will not be run again"
    assert [(i.job_id, i.status, i.error) for i in found] == [(deadly, JobStatus.FAILED, reason)]
    assert await anext(stream) == JobFailed(deadly, reason)
    assert (await queue.get(deadly)).attempts == 3
    assert (await queue.stats()).failed == 1


async def test_a_batch_mate_of_a_job_that_keeps_crashing_the_worker_is_not_blamed_for_it(
    make_queue: MakeQueue, queue_settings: QueueSettings, tmp_path: Path
) -> None:
    deadly = await crash_while_running(queue_settings, tmp_path, "ann:deadly", "bob:innocent", batch_size=2)
    for _ in range(2):  # after the first crash, each job it caught runs alone
        assert await crash_while_running(queue_settings, tmp_path, batch_size=2) == deadly
    queue = await make_queue(batch_size=2, start=False)

    found, _ = await start_and_drain(queue)

    assert [(i.spec.request.prompt, i.status) for i in found] == [
        ("deadly", JobStatus.FAILED),
        ("innocent", JobStatus.QUEUED),
    ]
    assert (await queue.get(found[1].job_id)).status is JobStatus.SUCCEEDED
