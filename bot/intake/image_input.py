"""The picture attached to `/video`: checked from its metadata, downloaded, checked again, stored.

Discord tells the size and content type before anything is downloaded, so a file too large or of the
wrong kind costs no transfer. The bytes are then checked for what they really are (`prepare_image`:
format, pixel count before decoding, decodable), cropped to the video's size and stored with the job's
files; the request carries the stored file's path. Decoding runs on a worker thread, not the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import discord

from bot.discord_io.sanitize import display_prompt
from bot.errors import ImageUnavailableError, InvalidOptionError
from bot.i18n import Text
from bot.i18n.engine_texts import picture_text
from generation.conditioning import FORMATS, ImageLimits, copy_stored_image, prepare_image, store_image
from generation.errors import InvalidRequestError

log = logging.getLogger(__name__)

_SHOWN_NAME_CHARS = 40


async def store_attachment(
    attachment: discord.Attachment, width: int, height: int, limits: ImageLimits, output_dir: Path
) -> str:
    """The stored path of `attachment` cropped to `width`×`height`; `InvalidOptionError` or `ImageUnavailableError`."""
    name = _shown(attachment.filename)
    content_type = (attachment.content_type or "").split(";")[0].strip().lower()
    if content_type not in FORMATS.values():
        said = (
            Text("{name}, a {content_type}", name=name, content_type=content_type)
            if content_type
            else Text("{name}, a file of unknown type", name=name)
        )
        raise InvalidOptionError("image", said, picture_text(limits.describe()))
    if attachment.size > limits.max_bytes:
        raise InvalidOptionError("image", f"{name}, {attachment.size / 2**20:.1f} MiB", picture_text(limits.describe()))
    data = await _download(attachment, name)
    try:
        png = await asyncio.to_thread(prepare_image, data, width, height, limits)
    except InvalidRequestError as error:
        what = picture_text(str(error.value))
        raise InvalidOptionError(
            "image", Text("{name}, {what}", name=name, what=what), picture_text(error.allowed)
        ) from None
    return str(await asyncio.to_thread(store_image, png, output_dir))


async def copy_image(path: str, width: int, height: int, output_dir: Path) -> str:
    """A copy of a job's stored image, fitted to `width`×`height`, for a new job (Re-roll, Remix).

    Raises `InvalidOptionError` when the image is gone (deleted with the old job's files).
    """
    try:
        return str(await asyncio.to_thread(copy_stored_image, path, width, height, output_dir))
    except InvalidRequestError as error:
        raise InvalidOptionError("image", picture_text(str(error.value)), picture_text(error.allowed)) from None


async def discard_image(path: str | None) -> None:
    """Delete a stored image (or copy of a video to extend) whose job was never queued."""
    if path is not None:
        await asyncio.to_thread(Path(path).unlink, missing_ok=True)


async def _download(attachment: discord.Attachment, name: str) -> bytes:
    try:
        return await attachment.read()
    except (discord.NotFound, discord.Forbidden):
        # Discord's signed attachment links expire, and a deleted upload is gone.
        raise ImageUnavailableError(name, Text("its link has expired or the file was deleted")) from None
    except discord.HTTPException as error:
        log.warning("downloading attachment %s failed: %s", attachment.id, error)
        raise ImageUnavailableError(name, Text("Discord answered {status}", status=error.status)) from None


def _shown(filename: str) -> str:
    return f"“{display_prompt(filename, _SHOWN_NAME_CHARS)}”"
