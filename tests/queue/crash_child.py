"""A queue in a child process that the test kills with SIGKILL once a job is running: a real crash.

    python -m tests.queue.crash_child DATABASE VIDEOS BATCH_SIZE [OWNER:PROMPT ...]

Starts a `LocalJobQueue` (recovering whatever DATABASE holds), submits the jobs given, and prints the
id of each job that starts, one per line. No step is ever let through, so the running job is still at
its first when the kill comes, however long that takes; its clock stands still, so no watchdog fires.
The model load is held until every job is in line, so same-shape ones share the first batch.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from generation.config import EngineSettings
from generation.queue.interface import JobStarted
from generation.queue.local import LocalJobQueue
from generation.queue.settings import QueueSettings
from tests.fakes.clock import FakeClock
from tests.fakes.generator import FakeGenerator
from tests.queue.conftest import spec, stub_encoder


async def main(database: Path, videos: Path, batch_size: int, jobs: list[str]) -> None:
    clock = FakeClock()
    generator = FakeGenerator(hold_steps=True, hold_load=True, clock=clock)
    queue = LocalJobQueue(
        QueueSettings(database_path=database),
        EngineSettings(output_dir=videos, max_batch_size=batch_size),
        generator,
        encoder=stub_encoder,
        clock=clock,
    )
    events = queue.subscribe()
    await queue.start()
    for owner, prompt in map(_job, jobs):
        await queue.submit(spec(owner, prompt=prompt))
        clock.advance(1.0)  # a second apart, so submission times are distinct, as people's would be
    generator.loading.open()
    async for event in events:
        if isinstance(event, JobStarted):
            print(event.job_id, flush=True)


def _job(argument: str) -> tuple[str, str]:
    owner, prompt = argument.split(":", 1)
    return owner, prompt


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]))
