"""Deleting delivered videos once they are `video_retention_h` hours old, so the output folder stays bounded.

Discord keeps the uploaded copy; the file on disk is only needed until its user has been shown it (a
restart may still deliver it), so an unacknowledged job's video is never deleted, however old. The
picture an image-to-video job animated goes with its video (Re-roll and Remix of the job need it until then).

The policy and its loop are here, for both backends; where the files are recorded is an `ExpiredFiles`:
the local queue's SQLite `JobStore`, or, with Redis, the bot host's record (`redis.retention`). What a
record names is input: the local queue's sweep deletes only files that resolve inside its output
folder (Redis's record is checked by `redis.retention` itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final, Protocol

from generation.clock import Clock
from generation.queue.jobfiles import UnsafeNameError, inside

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S: Final = 3600.0


class ExpiredFiles(Protocol):
    """Where the files of ended jobs are recorded, as the sweeper needs them."""

    async def expired_videos(self, ended_before: float) -> dict[str, list[Path]]:
        """The files, by job id, of acknowledged jobs that ended before `ended_before` (video and picture)."""
        ...

    async def forget_videos(self, job_ids: Sequence[str]) -> None:
        """Forget the files of these jobs: they are gone."""
        ...


class VideoSweeper:
    """Deletes the files of acknowledged jobs that ended more than `retention_h` hours ago, by `clock`."""

    def __init__(
        self,
        store: ExpiredFiles,
        retention_h: float,
        clock: Clock,
        *,
        now: Callable[[], Awaitable[float]] | None = None,
        folder: Path | None = None,
    ) -> None:
        """`now` reads the clock the store's end times were stamped on, where that is not `clock`: Redis's,
        for a store in Redis, so a bot host whose clock is off neither sweeps early nor keeps too long.
        `folder`, where the store's paths are not checked already, is the one every file deleted must
        resolve inside: a recorded path that leads elsewhere is reported and left on disk."""
        self._store = store
        self._retention_s = retention_h * 3600.0
        self._clock = clock
        self._now = now
        self._folder = folder

    @property
    def enabled(self) -> bool:
        """False when videos are kept forever (a retention of 0)."""
        return self._retention_s > 0

    async def sweep(self) -> int:
        """Delete what has expired now; return how many files went."""
        now = self._clock.time() if self._now is None else await self._now()
        expired = await self._store.expired_videos(now - self._retention_s)
        if not expired:
            return 0
        # Files first, then the paths: a crash in between leaves paths the next sweep retries, not
        # files nobody knows of.
        gone = await asyncio.to_thread(_remove, expired, self._folder)
        await self._store.forget_videos(gone)
        log.info("deleted %d expired videos", len(gone), extra={"videos_deleted": len(gone)})
        return len(gone)

    async def run(self) -> None:
        """Sweep every `SWEEP_INTERVAL_S` on the clock until cancelled; a failed sweep is logged and retried later."""
        while True:
            await self._clock.sleep(SWEEP_INTERVAL_S)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweeping expired videos failed; trying again in %.0f s", SWEEP_INTERVAL_S)


def _remove(files: dict[str, list[Path]], folder: Path | None) -> list[str]:
    """Delete the files (those inside `folder`, when given); return the jobs whose files are all gone now
    (a missing one counts as gone, and one left outside `folder` is no longer recorded)."""
    gone = []
    for job_id, paths in files.items():
        try:
            for path in paths:
                if folder is not None and not _inside(folder, path, job_id):
                    continue
                path.unlink(missing_ok=True)
        except OSError:
            log.warning("could not delete the expired files of job_id=%s", job_id, exc_info=True)
            continue
        gone.append(job_id)
    return gone


def _inside(folder: Path, path: Path, job_id: str) -> bool:
    try:
        inside(folder, path)
    except UnsafeNameError:
        log.warning("a recorded file of job_id=%s is not under %s; it is left alone", job_id, folder)
        return False
    return True
