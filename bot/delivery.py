"""Getting a finished video to the user: fit it under the upload limit, upload it, never lose it.

The result replaces the status message while the interaction token is fresh. Past that, or when the
token is refused, it goes to the channel as a new message that mentions only the requester.
Transient Discord failures (5xx, 429, dropped connections) are retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from pathlib import Path

import aiofiles
import aiofiles.os
import discord

from bot.discord_calls import RETRY_DELAYS_S, with_retries
from bot.status_message import StatusMessage, TokenGoneError
from generation.encode import fit_to_budget
from generation.results import VideoFile, VideoResult

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 2**20


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


async def deliver(
    status: StatusMessage,
    result: VideoResult,
    *,
    embed: discord.Embed,
    view: discord.ui.View,
    channel_upload_limit: int,
    retry_delays: tuple[float, ...] = RETRY_DELAYS_S,
) -> None:
    """Upload `result` to the user. Raises DoesNotFitError or the last Discord error if all attempts fail.

    Shrunk copies made to fit an upload limit are removed once the upload is over, whatever its outcome.
    """
    copies: list[Path] = []

    async def fitted(video: VideoFile, budget: int) -> VideoFile:
        smaller = await fit_video(video, budget)
        if smaller.path != video.path:
            copies.append(smaller.path)
        return smaller

    try:
        via_token = status.token_usable()
        budget = status.context.attachment_size_limit if via_token else channel_upload_limit
        video = await fitted(result.video, budget)
        data = await read_bytes(video.path)
        filename = f"video-{result.seed}.mp4"

        def file() -> discord.File:
            return discord.File(io.BytesIO(data), filename=filename)

        if via_token:
            try:
                await with_retries(
                    lambda: status.edit(embed=embed, view=view, attachments=[file()], channel_fallback=False),
                    "result upload",
                    retry_delays,
                )
                return
            except TokenGoneError:
                log.info("interaction token refused at delivery; posting in the channel instead")
                if video.size_bytes > channel_upload_limit:
                    video = await fitted(video, channel_upload_limit)
                    data = await read_bytes(video.path)
        previous = status.message_id
        await with_retries(
            lambda: status.post_in_channel(
                content=f"<@{status.context.user_id}> your video is ready.",
                embed=embed,
                view=view,
                files=[file()],
            ),
            "channel upload",
            retry_delays,
        )
        if previous is not None:
            await status.delete_message(previous)
    finally:
        for path in copies:
            with contextlib.suppress(FileNotFoundError):
                await aiofiles.os.remove(path)
