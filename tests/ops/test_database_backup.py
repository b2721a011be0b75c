"""docs/deploy.md's backup command, run as written, copies the database while a live store writes to it."""

from __future__ import annotations

import asyncio
import os
import shlex
import sqlite3
import sys
from pathlib import Path

from generation.queue.interface import JobInfo, JobSpec, JobStatus
from generation.queue.store import JobStore
from generation.request import VideoRequest
from generation.schema import versions
from tests.patience import PATIENCE_S

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
IN_THE_CONTAINER = ["docker", "compose", "exec", "bot", "python", "-c"]


def documented_backup() -> str:
    """The Python the documented `docker compose exec bot python -c …` line runs in the container."""
    line = next(line for line in DEPLOY.read_text().splitlines() if "backup(" in line)
    *command, code = shlex.split(line)
    assert command == IN_THE_CONTAINER
    return code


def job(n: int) -> JobInfo:
    spec = JobSpec(VideoRequest(prompt=f"take {n} of a lighthouse in a storm"), owner_id="ann")
    return JobInfo(f"job-{n:05}", spec, JobStatus.QUEUED, position=None, eta_s=None, submitted_at=float(n))


def saved_ids(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        assert "jobs" in versions(conn)
        return [job_id for (job_id,) in conn.execute("SELECT job_id FROM jobs ORDER BY seq")]
    finally:
        conn.close()


async def test_the_documented_backup_copies_a_database_a_live_store_is_writing(tmp_path: Path) -> None:
    database = tmp_path / "videobot.sqlite3"
    store = JobStore(database)
    await store.open()
    await store.save([job(n) for n in range(100)])
    backup = await asyncio.create_subprocess_exec(
        sys.executable, "-c", documented_backup(), cwd=tmp_path, env=os.environ | {"DATABASE_PATH": str(database)}
    )
    copying = asyncio.create_task(backup.wait())
    written = 100
    async with asyncio.timeout(PATIENCE_S):
        while not copying.done():  # one transaction per save, until the copy is done
            await store.save([job(written)])
            written += 1
    await store.save([job(written)])  # the store goes on writing after the copy
    await store.close()

    assert backup.returncode == 0
    copied = saved_ids(tmp_path / "videobot-backup.sqlite3")
    assert copied == [job(n).job_id for n in range(len(copied))]  # a snapshot: every save up to one, none after
    assert 100 <= len(copied) <= written
    assert saved_ids(database) == [job(n).job_id for n in range(written + 1)]
