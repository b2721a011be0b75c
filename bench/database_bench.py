"""What keeping the database costs at start and for a backup, by the number of jobs it holds.

    python -m bench.database_bench [--jobs 10000 100000]

For a database of finished jobs (a prompt, a context and timings each, as the bot writes them):
(a) the start-up check of DATABASE_PATH (`PRAGMA quick_check` and the versions), before Discord;
(b) opening a file from before schema versions (main 5e78cd9) with the job store: its migration;
(c) docs/deploy.md's backup command, run as written (a new Python process included).

Prints figures only; no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.startup.checks import DATABASE_SCHEMAS
from generation.database_check import check_database
from generation.queue.interface import JobInfo, JobSpec, JobStatus
from generation.queue.store import JobStore
from generation.request import VideoRequest
from generation.results import Timings
from tests.ops.test_database_backup import documented_backup

_CONTEXT = '{"guild": 123456789012345678, "channel": 123456789012345679, "message": 123456789012345680}'


def _job(n: int) -> JobInfo:
    request = VideoRequest(prompt=f"take {n}: a lighthouse in a storm, waves, cinematic")
    spec = JobSpec(request, owner_id=f"{n % 97}", group_id="g", context=_CONTEXT)
    return JobInfo(
        f"job-{n:07}", spec, JobStatus.SUCCEEDED, position=None, eta_s=None, submitted_at=n, started_at=n + 1.0,
        finished_at=n + 31.0, attempts=1, seed=n, video_path=f"outputs/job-{n:07}.mp4", timings=Timings(0, 28, 1, 1),
    )  # fmt: skip


async def _fill(path: Path, jobs: int) -> None:
    store = JobStore(path)
    await store.open()
    for start in range(0, jobs, 5000):
        await store.save([_job(n) for n in range(start, min(jobs, start + 5000))])
    await store.close()


async def _open_and_close(path: Path) -> None:
    store = JobStore(path)
    await store.open()
    await store.close()


def _timed_ms(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


def _as_before_versions(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE schema_versions")
    conn.commit()
    conn.close()


def _measure(folder: Path, jobs: int) -> str:
    path = folder / "videobot.sqlite3"
    asyncio.run(_fill(path, jobs))
    size = path.stat().st_size / 2**20
    check = _timed_ms(lambda: check_database(path, DATABASE_SCHEMAS))
    _as_before_versions(path)
    migrate = _timed_ms(lambda: asyncio.run(_open_and_close(path)))
    env, code = os.environ | {"DATABASE_PATH": str(path)}, documented_backup()
    backup = _timed_ms(lambda: subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, check=True))
    return (
        f"{jobs:>8} jobs, {size:6.1f} MiB: start-up check {check:6.1f} ms, "
        f"upgrade from 5e78cd9 {migrate:6.1f} ms, documented backup {backup:6.1f} ms"
    )


def main() -> None:
    """Print the three figures for each size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print(f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}")
    for jobs in args.jobs:
        with tempfile.TemporaryDirectory() as folder:
            print(_measure(Path(folder), jobs))


if __name__ == "__main__":
    main()
