"""A queue in a child process that the test kills with SIGKILL once a job is running: a real crash.

    python -m tests.queue.crash_child DATABASE VIDEOS BATCH_SIZE [OWNER:PROMPT ...]

Starts a `LocalJobQueue` (recovering whatever DATABASE holds), submits the jobs given, and prints the
id of each job that starts, one per line. Jobs take 150 slow steps, so none finishes before the kill.
The jobs are all in line before the worker takes its first batch, so same-shape ones share it.
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


async def main(database: Path, videos: Path, batch_size: int, jobs: list[str]) -> None:
    queue = LocalJobQueue(
        QueueSettings(database_path=database),
        EngineSettings(output_dir=videos, max_batch_size=batch_size),
        FakeGenerator(step_delay_s=0.05),
        encoder=stub_encoder,
    )
    events = queue.subscribe()
    await queue.start()
    # Submitted together: each submission queues its job before its first await, while the worker
    # (started first) is still waiting for the model to load.
    await asyncio.gather(*(queue.submit(spec(owner, prompt=prompt, steps=150)) for owner, prompt in map(_job, jobs)))
    async for event in events:
        if isinstance(event, JobStarted):
            print(event.job_id, flush=True)


def _job(argument: str) -> tuple[str, str]:
    owner, prompt = argument.split(":", 1)
    return owner, prompt


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]))
