"""Jobs in SQLite: every state a job passes through, so a restart loses nothing and history survives.

One row per job, upserted whole on each change. The connection lives on one dedicated thread; writes
are group-committed: whatever was saved while the previous transaction was committing goes into the
next one, and every `save` returns only once its rows are committed. Under load (a burst of
submissions, a batch finishing) that is one transaction for many rows; when idle it is one each.
The database runs in WAL mode with `synchronous=NORMAL`: a crash of the process loses nothing
committed; a power cut may lose the last transactions, which is fine for a job queue.

A job found `running` when the store is opened was interrupted by a crash: `requeue_interrupted`
counts that crash on the row (`crashes`) so the queue can stop re-running a prompt that kills the
worker. A job put back by a graceful shutdown is saved as `queued` and costs no crash.

A job that ended stays `unacknowledged` until the consumer confirms it told the user
(`acknowledge`); the queue hands such jobs back at the next start, so an outcome cut off by a
shutdown or crash between the save and the upload is still delivered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from generation.database import Database, connect, transaction
from generation.queue.interface import JobInfo, JobSpec, JobStatus, actor_from_text, actor_text
from generation.queue.quota import allowance_from_text, allowance_text
from generation.request import VideoRequest
from generation.results import Timings
from generation.schema import Schema, statements

_T = TypeVar("_T")

# Version 1, as main 5e78cd9 created it; never edited: a change is a new migration in `JOBS_SCHEMA`.
_VERSION_1: Final = """
CREATE TABLE IF NOT EXISTS jobs (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,  -- submission order
    job_id       TEXT NOT NULL UNIQUE,
    owner_id     TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    context      TEXT NOT NULL,
    request      TEXT NOT NULL,                      -- VideoRequest fields as JSON
    status       TEXT NOT NULL,
    submitted_at REAL NOT NULL,
    started_at   REAL,
    finished_at  REAL,
    attempts     INTEGER NOT NULL DEFAULT 0,         -- runs started (saved before each run)
    crashes      INTEGER NOT NULL DEFAULT 0,         -- restarts that found the job running
    seed         INTEGER,
    error        TEXT,
    cancelled_by TEXT,
    video_path   TEXT,
    batch_size   INTEGER,
    load_s       REAL,
    denoise_s    REAL,
    decode_s     REAL,
    encode_s     REAL,
    acknowledged_at REAL                             -- the consumer told the user the outcome
);
-- Few indexes, and ones that rarely change: every commit pays for each (status changes twice per job,
-- so it is not indexed; the start-up and /stats queries that filter on it scan instead).
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner_id, seq);
CREATE INDEX IF NOT EXISTS jobs_by_finish ON jobs (finished_at) WHERE finished_at IS NOT NULL;
"""

_COLUMNS: Final = (
    "job_id", "owner_id", "group_id", "context", "request", "allowance", "status", "submitted_at", "started_at",
    "finished_at", "attempts", "seed", "error", "cancelled_by", "video_path", "batch_size",
    "load_s", "denoise_s", "decode_s", "encode_s",
)  # fmt: skip
# What a save may change: everything but the identity, the spec, the crash count and the acknowledgement.
_MUTABLE: Final = _COLUMNS[6:]
_UPSERT: Final = (
    f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    f"ON CONFLICT (job_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _MUTABLE)}"
)
_SELECT: Final = f"SELECT {', '.join(_COLUMNS)}, crashes FROM jobs"
_TERMINAL: Final = tuple(status.value for status in JobStatus if status.terminal)


@dataclass(frozen=True)
class StoredJob:
    """A job as read back from the database, with the number of crashes it went through."""

    info: JobInfo
    crashes: int
    batch_size: int | None


class JobStore:
    """The `jobs` table behind an asyncio API; see the module docstring for the write policy."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db = Database(path, "job-store")
        self._rows: list[tuple[Any, ...]] = []
        self._committed: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    async def open(self) -> None:
        """Create the file and table if needed, or bring an older file's table to `JOBS_SCHEMA`'s version."""
        await self._db.open(JOBS_SCHEMA)

    async def close(self) -> None:
        """Commit what is pending and close the connection; idempotent."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        # From here on a late `acknowledge` uses its own connection; work already handed to the
        # store's thread still runs on this one, before it closes.
        self._closed = True
        await self._db.close()

    async def save(self, jobs: Sequence[JobInfo], *, batch_size: int | None = None) -> None:
        """Insert or update `jobs` (spec and crash count are kept); returns once committed."""
        if jobs:
            await asyncio.shield(self.save_soon(jobs, batch_size=batch_size))

    def save_soon(self, jobs: Sequence[JobInfo], *, batch_size: int | None = None) -> asyncio.Future[None]:
        """Queue `jobs` for the next transaction; the future resolves (or fails) once it is committed.

        Futures resolve in the order their saves were queued, so callbacks see commits in order.
        """
        self._rows.extend(_row(info, batch_size) for info in jobs)
        if self._committed is None:
            self._committed = asyncio.get_running_loop().create_future()
        committed = self._committed
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="job-store-flush")
        return committed

    async def get(self, job_id: str) -> StoredJob | None:
        """The job with that id, or None."""
        rows = await self._query(f"{_SELECT} WHERE job_id = ?", (job_id,))
        return rows[0] if rows else None

    async def history(self, owner_id: str | None, limit: int) -> list[StoredJob]:
        """Finished jobs, most recent first, optionally only `owner_id`'s."""
        finished = f"finished_at IS NOT NULL AND status IN ({', '.join('?' * len(_TERMINAL))})"
        newest_first = "ORDER BY finished_at DESC, seq DESC LIMIT ?"
        if owner_id is None:
            return await self._query(f"{_SELECT} WHERE {finished} {newest_first}", (*_TERMINAL, limit))
        sql = f"{_SELECT} WHERE owner_id = ? AND {finished} {newest_first}"
        return await self._query(sql, (owner_id, *_TERMINAL, limit))

    async def update_context(self, job_id: str, context: str) -> bool:
        """Replace a job's opaque context; False if there is no such job."""

        def update(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                changed = conn.execute("UPDATE jobs SET context = ? WHERE job_id = ?", (context, job_id)).rowcount
            return bool(changed)

        return await self._db.run(update)

    async def acknowledge(self, job_id: str, at: float) -> bool:
        """Record that the job's outcome reached its user at `at`; False if there is no such job.

        Works after `close()` too: outcomes finished during a shutdown are shown after the queue has
        closed its store, and one left unacknowledged would be posted again at every start.
        """
        if self._closed:
            return await asyncio.to_thread(self._acknowledge_once, job_id, at)
        return await self._db.run(_acknowledge, job_id, at)

    def _acknowledge_once(self, job_id: str, at: float) -> bool:
        conn = connect(self._path)
        try:
            return _acknowledge(conn, job_id, at)
        finally:
            conn.close()

    async def unacknowledged(self) -> list[StoredJob]:
        """Ended jobs whose outcome was never acknowledged, oldest first."""
        sql = f"{_SELECT} WHERE finished_at IS NOT NULL AND acknowledged_at IS NULL ORDER BY seq"
        return await self._query(sql, ())

    async def expired_videos(self, ended_before: float) -> dict[str, list[Path]]:
        """The files, by job id, of acknowledged jobs that ended before `ended_before`: the video, and the
        picture an image-to-video job animated (`VideoRequest.image`) or the video an extension continued
        (`VideoRequest.extend`), whichever are still recorded.

        A job keeps its files until its user was shown the outcome, however old: a restart may still deliver it.
        """

        def fetch(conn: sqlite3.Connection) -> dict[str, list[Path]]:
            sql = (
                "SELECT job_id, video_path, json_extract(request, '$.image'), json_extract(request, '$.extend') "
                "FROM jobs WHERE acknowledged_at IS NOT NULL AND finished_at < ? AND (video_path IS NOT NULL "
                "OR json_extract(request, '$.image') IS NOT NULL OR json_extract(request, '$.extend') IS NOT NULL)"
            )
            rows = conn.execute(sql, (ended_before,))
            return {job_id: [Path(path) for path in files if path] for job_id, *files in rows}

        return await self._db.run(fetch)

    async def forget_videos(self, job_ids: Sequence[str]) -> None:
        """Clear the paths of these jobs' files (video, picture, video extended; the files are gone)."""

        def update(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(
                    "UPDATE jobs SET video_path = NULL, request = json_remove(request, '$.image', '$.extend') "
                    "WHERE job_id = ?",
                    [(i,) for i in job_ids],
                )

        await self._db.run(update)

    async def recent_successes(self, limit: int) -> list[StoredJob]:
        """The last `limit` succeeded jobs, most recently submitted first (to seed the ETA estimator)."""
        sql = f"{_SELECT} WHERE status = ? ORDER BY seq DESC LIMIT ?"
        return await self._query(sql, (JobStatus.SUCCEEDED.value, limit))

    async def requeue_interrupted(self) -> list[StoredJob]:
        """Count a crash on every job left `running`, make it `queued`; return all queued, oldest first."""
        await self._db.run(_requeue_interrupted)
        return await self._query(f"{_SELECT} WHERE status = ? ORDER BY seq", (JobStatus.QUEUED.value,))

    async def quota_counted(self, since: float) -> list[tuple[str, str, float]]:
        """The jobs submitted after `since` that count against a quota (neither failed nor cancelled), as
        (job id, quota key, submitted at), oldest first."""

        def fetch(conn: sqlite3.Connection) -> list[tuple[str, str, float]]:
            sql = (
                "SELECT job_id, json_extract(allowance, '$.quota_key') AS quota_key, submitted_at FROM jobs "
                "WHERE submitted_at > ? AND status NOT IN (?, ?) AND json_valid(allowance) "
                "AND quota_key != '' ORDER BY seq"
            )
            rows = conn.execute(sql, (since, JobStatus.FAILED.value, JobStatus.CANCELLED.value))
            return [(job_id, key, at) for job_id, key, at in rows if isinstance(key, str)]

        return await self._db.run(fetch)

    async def outcomes(self) -> tuple[dict[JobStatus, int], float | None]:
        """Jobs per terminal status, and the mean seconds from start to finish of succeeded jobs."""
        return await self._db.run(_outcomes)

    # Back on the event loop.

    async def _flush(self) -> None:
        while self._rows:
            rows, self._rows = self._rows, []
            committed, self._committed = self._committed, None
            assert committed is not None
            try:
                await self._db.run(_write, rows)
            except Exception as error:  # every waiter of this transaction gets the error
                committed.set_exception(error)
            else:
                committed.set_result(None)

    async def _query(self, sql: str, params: tuple[Any, ...]) -> list[StoredJob]:
        def fetch(conn: sqlite3.Connection) -> list[StoredJob]:
            return [_stored(row) for row in conn.execute(sql, params).fetchall()]

        return await self._db.run(fetch)


# What runs on the store's thread, with its connection.


def _write(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    with transaction(conn):
        conn.executemany(_UPSERT, rows)


def _requeue_interrupted(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        conn.execute(
            "UPDATE jobs SET status = ?, crashes = crashes + 1, started_at = NULL WHERE status = ?",
            (JobStatus.QUEUED.value, JobStatus.RUNNING.value),
        )


def _outcomes(conn: sqlite3.Connection) -> tuple[dict[JobStatus, int], float | None]:
    counts = dict(conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall())
    (mean,) = conn.execute(
        "SELECT AVG(finished_at - started_at) FROM jobs WHERE status = ?", (JobStatus.SUCCEEDED.value,)
    ).fetchone()
    return {status: counts.get(status.value, 0) for status in JobStatus if status.terminal}, mean


def _acknowledge(conn: sqlite3.Connection, job_id: str, at: float) -> bool:
    with transaction(conn):
        changed = conn.execute("UPDATE jobs SET acknowledged_at = ? WHERE job_id = ?", (at, job_id)).rowcount
    return bool(changed)


def _version_1(conn: sqlite3.Connection) -> None:
    """The table as main 5e78cd9 left any file it opened: created if missing, and a file from before
    acknowledgements given their column, its past outcomes counted as told (they were delivered, or
    lost, long ago, and must not be posted again)."""
    for statement in statements(_VERSION_1):
        conn.execute(statement)
    columns = {name for _, name, *_ in conn.execute("PRAGMA table_info(jobs)")}
    if "acknowledged_at" not in columns:
        conn.execute("ALTER TABLE jobs ADD COLUMN acknowledged_at REAL")
        conn.execute("UPDATE jobs SET acknowledged_at = finished_at WHERE finished_at IS NOT NULL")


JOBS_SCHEMA: Final = Schema(
    "jobs",
    (
        _version_1,
        # The member's allowance (JSON, see `quota.allowance_text`; NULL: no limits, as every job from
        # before allowances had), so a restart counts quotas again from the jobs.
        "ALTER TABLE jobs ADD COLUMN allowance TEXT",
    ),
)
"""The `jobs` table's migrations (see `generation.schema`); a new column is one more entry here."""


def _row(info: JobInfo, batch_size: int | None) -> tuple[Any, ...]:
    spec, timings = info.spec, info.timings or Timings()
    request = json.dumps(dataclasses.asdict(spec.request), separators=(",", ":"))
    return (
        info.job_id, spec.owner_id, spec.group_id, spec.context, request, allowance_text(spec.allowance),
        info.status.value,
        info.submitted_at, info.started_at, info.finished_at, info.attempts, info.seed, info.error,
        actor_text(info.cancelled_by) if info.cancelled_by is not None else None, info.video_path, batch_size,
        timings.load_s, timings.denoise_s, timings.decode_s, timings.encode_s,
    )  # fmt: skip


def _stored(row: tuple[Any, ...]) -> StoredJob:
    (job_id, owner_id, group_id, context, request, allowance, status, submitted_at, started_at, finished_at,
     attempts, seed, error, cancelled_by, video_path, batch_size, load_s, denoise_s, decode_s, encode_s,
     crashes) = row  # fmt: skip
    spec = JobSpec(VideoRequest(**json.loads(request)), owner_id, group_id, context, allowance_from_text(allowance))
    timings = Timings(load_s, denoise_s, decode_s, encode_s) if status == JobStatus.SUCCEEDED else None
    info = JobInfo(
        job_id=job_id,
        spec=spec,
        status=JobStatus(status),
        position=None,
        eta_s=None,
        submitted_at=submitted_at,
        started_at=started_at,
        finished_at=finished_at,
        attempts=attempts,
        seed=seed,
        error=error,
        cancelled_by=actor_from_text(cancelled_by) if cancelled_by is not None else None,
        video_path=video_path,
        timings=timings,
    )
    return StoredJob(info, crashes, batch_size)
