"""A queue in a child process that the test kills with SIGKILL once a job is running: a real crash.

    python -m tests.queue.crash_child DATABASE VIDEOS [OWNER:PROMPT ...]

Starts a `LocalJobQueue` (recovering whatever DATABASE holds), submits the jobs given, and prints the
id of each job that starts, one per line. Jobs take 150 slow steps, so none finishes before the kill.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from generation.config import EngineSettings
from generation.queue.interface import JobStarted
from generation.queue.local import LocalJobQueue
from generation.queue.settings import QueueSettings
from tests.fakes.generator import FakeGenerator
from tests.queue.conftest import spec, stub_encoder


async def main(database: Path, videos: Path, jobs: list[str]) -> None:
    queue = LocalJobQueue(
        QueueSettings(database_path=database),
        EngineSettings(output_dir=videos),
        FakeGenerator(step_delay_s=0.05),
        encoder=stub_encoder,
    )
    events = queue.subscribe()
    await queue.start()
    for job in jobs:
        owner, prompt = job.split(":", 1)
        await queue.submit(spec(owner, prompt=prompt, steps=150))
    async for event in events:
        if isinstance(event, JobStarted):
            print(event.job_id, flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))
