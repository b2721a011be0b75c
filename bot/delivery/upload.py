"""A finished video as an attachment: fitted under each route's upload limit, never left behind.

Which route the video takes (the interaction's webhook or the channel) is the status message's
choice; this module only makes the file fit the limit it is given. Shrunk copies are removed when
the upload is over, whatever its outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from pathlib import Path
from types import TracebackType

import aiofiles
import aiofiles.os
import discord

from bot.delivery.status_message import FileMaker
from generation.encode import fit_to_budget
from generation.results import VideoFile, VideoResult

log = logging.getLogger(__name__)


async def fit_video(video: VideoFile, budget_bytes: int) -> VideoFile:
    """The video itself if it fits, else a smaller re-encode (off the event loop). Raises DoesNotFitError."""
    if video.size_bytes <= budget_bytes:
        return video
    destination = video.path.with_name(f"{video.path.stem}.fit{budget_bytes}.mp4")
    log.info("re-encoding %s (%d bytes) to fit %d bytes", video.path.name, video.size_bytes, budget_bytes)
    return await asyncio.to_thread(fit_to_budget, video.path, budget_bytes, destination)


async def read_bytes(path: Path) -> bytes:
    """Read a result file without blocking the event loop."""
    async with aiofiles.open(path, "rb") as handle:
        return await handle.read()


class VideoUpload:
    """A result's MP4 as an `Upload`; use as `async with`, which removes the shrunk copies it made."""

    def __init__(self, result: VideoResult) -> None:
        self._video = result.video
        self._filename = f"video-{result.seed}.mp4"
        self._data: bytes | None = None
        self._copies: list[Path] = []

    async def fit(self, budget_bytes: int) -> FileMaker:
        """Shrink the video (the copy already made, if any) only when it is over `budget_bytes`."""
        if self._data is None or self._video.size_bytes > budget_bytes:
            smaller = await fit_video(self._video, budget_bytes)
            if smaller.path != self._video.path:
                self._copies.append(smaller.path)
            self._video = smaller
            self._data = await read_bytes(smaller.path)
        data, filename = self._data, self._filename
        return lambda: discord.File(io.BytesIO(data), filename=filename)

    async def __aenter__(self) -> VideoUpload:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for path in self._copies:
            with contextlib.suppress(FileNotFoundError):
                await aiofiles.os.remove(path)
