"""The bot host's files of the Redis backend, as `VideoSweeper` sweeps them (VIDEO_RETENTION_H).

With Redis the bot fetches each finished MP4 into its `output_dir`, and the picture an image-to-video
job animated stays where the bot stored it: both on the bot's host, which no worker sees. The
promise is the local queue's (`generation.queue.retention`, which holds the policy and the loop): a
file goes once its job ended `video_retention_h` hours ago *and* its outcome was acknowledged.

The record of those files is in Redis, per bot `origin` (see `scripts.py`): acknowledging an ended
job adds it to `kept:{origin}` (scored by when it ended) and its picture's path to
`pictures:{origin}`, so the sweep needs neither the job's record (which expires) nor a scan of
`output_dir`. A job whose outcome is still owed is never in it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import redis.asyncio as redis

from generation.queue.redis.codec import SWEPT, decode_request, encode_request, number
from generation.queue.retention import SWEEP_INTERVAL_S


def video_path(output_dir: Path, job_id: str) -> Path:
    """Where the bot keeps a succeeded job's MP4."""
    return output_dir / f"{job_id}.mp4"


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

    async def expired_videos(self, ended_before: float) -> dict[str, list[Path]]:
        """The MP4 and picture, by job id, of this origin's acknowledged jobs that ended before `ended_before`."""
        ids = cast(list[str], await self._client.zrangebyscore(self._kept, "-inf", f"({number(ended_before)}"))
        if not ids:
            return {}
        pictures = cast(list[str | None], await self._client.hmget(self._pictures, ids))
        return {
            job_id: [video_path(self._output_dir, job_id), *([Path(picture)] if picture else [])]
            for job_id, picture in zip(ids, pictures, strict=True)
        }

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
                if (request := decode_request(text)).image is not None:
                    pipe.hset(self._job(job_id), "request", encode_request(dataclasses.replace(request, image=None)))
            pipe.zrem(self._kept, *job_ids)
            pipe.hdel(self._pictures, *job_ids)
            await pipe.execute()

    def _job(self, job_id: str) -> str:
        return f"{self._prefix}job:{job_id}"
