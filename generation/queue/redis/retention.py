"""The bot host's files of the Redis backend, as `VideoSweeper` sweeps them (VIDEO_RETENTION_H).

With Redis the bot fetches each finished MP4 into its `output_dir`, and the picture an image-to-video
job animated (or the video an extension continued) stays where the bot stored it: both on the bot's
host, which no worker sees. The promise is the local queue's (`generation.queue.retention`, which holds
the policy and the loop): a file goes once its job ended `video_retention_h` hours ago *and* its outcome
was acknowledged.

The record of those files is in Redis, per bot `origin` (see `scripts.py`): acknowledging an ended
job adds it to `kept:{origin}` (scored by when it ended) and its picture's path to
`pictures:{origin}`, so the sweep needs neither the job's record (which expires) nor a scan of
`output_dir`. A job whose outcome is still owed is never in it.

That record is input like anything in Redis: an id that is not a job id is reported once and dropped
from it, and a picture whose path does not resolve inside the bot's picture folder
(`output_dir/images`, where `generation.conditioning` stores them) is reported and left on disk. So the
sweep deletes nothing outside `output_dir`, whatever Redis holds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import redis.asyncio as redis

from generation.conditioning import IMAGES_FOLDER
from generation.errors import InvalidRequestError, shown
from generation.queue.jobfiles import UnsafeNameError, inside, is_job_id, job_file
from generation.queue.redis.codec import SWEPT, decode_request, encode_request, number
from generation.queue.retention import SWEEP_INTERVAL_S

log = logging.getLogger(__name__)


def record_keep_s(retention_h: float) -> float:
    """How long an acknowledged job's record must outlive its end for the sweep to see it first: the
    retention and two sweeps (0 when files are kept forever: then only ENDED_EVENTS_TTL counts)."""
    return retention_h * 3600.0 + 2 * SWEEP_INTERVAL_S if retention_h > 0 else 0.0


class BotHostFiles:
    """The files of one bot origin's acknowledged, ended jobs; an `ExpiredFiles` for `VideoSweeper`."""

    def __init__(self, client: redis.Redis, prefix: str, origin: str, output_dir: Path) -> None:
        self._client = client
        self._prefix = prefix
        self._kept = f"{prefix}kept:{origin}"
        self._pictures = f"{prefix}pictures:{origin}"
        self._output_dir = output_dir
        self._picture_dir = output_dir / IMAGES_FOLDER

    async def expired_videos(self, ended_before: float) -> dict[str, list[Path]]:
        """The MP4 and picture, by job id, of this origin's acknowledged jobs that ended before `ended_before`,
        each path checked to resolve inside its folder (what fails is reported and left out)."""
        ids = cast(list[str], await self._client.zrangebyscore(self._kept, "-inf", f"({number(ended_before)}"))
        if not ids:
            return {}
        pictures = cast(list[str | None], await self._client.hmget(self._pictures, ids))
        files = await asyncio.to_thread(self._checked, ids, pictures)
        if damaged := [job_id for job_id in ids if job_id not in files]:
            await self._drop(damaged)
        return files

    def _checked(self, ids: list[str], pictures: list[str | None]) -> dict[str, list[Path]]:
        """The files of the ids that are job ids (blocking: paths are resolved on disk)."""
        files: dict[str, list[Path]] = {}
        for job_id, picture in zip(ids, pictures, strict=True):
            if not is_job_id(job_id):
                log.warning("damaged retention record dropped: job_id=%s is not a job id", shown(job_id))
                continue
            try:
                paths = [inside(self._output_dir, job_file(self._output_dir, job_id, ".mp4"))]
            except UnsafeNameError:  # a link planted in the folder: followed, it leads out
                log.warning("damaged retention record dropped: the video of job_id=%s leads out of its folder", job_id)
                continue
            if picture:
                try:
                    paths.append(inside(self._picture_dir, Path(picture)))
                except UnsafeNameError:
                    log.warning(
                        "damaged retention record: the picture of job_id=%s is not in %s; it is left alone",
                        job_id, self._picture_dir,
                    )  # fmt: skip
            files[job_id] = paths
        return files

    async def _drop(self, job_ids: list[str]) -> None:
        """Forget records that name no job, without touching anything they name."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zrem(self._kept, *job_ids)
            pipe.hdel(self._pictures, *job_ids)
            await pipe.execute()

    async def forget_videos(self, job_ids: Sequence[str]) -> None:
        """Drop these jobs from the record (their files are gone); mark those whose job record is still
        there as swept and drop their pictures from their requests, as the local history forgets both (no
        video to fetch again, no picture for Re-roll to offer)."""
        if not job_ids:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hget(self._job(job_id), "request")
            requests = cast(list[str | None], await pipe.execute())
        async with self._client.pipeline(transaction=True) as pipe:
            for job_id, text in zip(job_ids, requests, strict=True):
                if text is None:
                    continue
                # HSET keeps the record's expiry; the job has ended, so nothing else writes these fields.
                pipe.hset(self._job(job_id), SWEPT, "1")
                try:
                    request = decode_request(text)
                except InvalidRequestError:
                    continue  # a damaged request: nothing of it is shown again, so nothing to rewrite
                if request.conditioned:
                    forgotten = dataclasses.replace(request, image=None, extend=None)
                    pipe.hset(self._job(job_id), "request", encode_request(forgotten))
            pipe.zrem(self._kept, *job_ids)
            pipe.hdel(self._pictures, *job_ids)
            await pipe.execute()

    def _job(self, job_id: str) -> str:
        return f"{self._prefix}job:{job_id}"
