"""Extend: which finished video may be continued, by which model, from which copy of its file.

The engine does the work (`generation.extend`): it takes the last frame of the MP4 a request's
`extend` names as the picture to animate and delivers the original followed by the continuation.
The bot decides the rest before queuing: the video must still be on this host (retention deletes
delivered videos after a while), a served model must animate pictures (the original's own model when
it does, else the first that does), and the new job owns a copy of the file, made off the event loop,
so the original's deletion cannot pull it from under a waiting extension. The continuation keeps the
original's frame rate and size: the engine does not resample either, and the join must not change
what the member already saw.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from bot.errors import InvalidOptionError, NotExtendableError
from bot.i18n import Text
from bot.intake.options import OptionOverrides, ParsedPrompt
from generation.errors import InvalidRequestError
from generation.extend import store_source_video
from generation.queue.interface import JobInfo, JobStatus, ServedModel
from generation.queue.jobfiles import UnsafeNameError, inside
from generation.request import VideoRequest

log = logging.getLogger(__name__)

VIDEO_GONE: Final = Text(
    "its file is no longer kept (finished videos are deleted after a while). Make a new one with /video"
)
NO_ANIMATING_MODEL: Final = Text("no model served here now animates pictures, and a continuation needs one")


def extension_prompt(request: VideoRequest) -> str:
    """The prompt, followed by flags for what a continuation may change (its frame rate and size may not)."""
    return f"{request.prompt} -steps {request.steps} -frames {request.num_frames} -gs {request.guidance_scale:g}"


def kept_settings(request: VideoRequest, parsed: ParsedPrompt, negative_prompt: str) -> OptionOverrides:
    """The settings a continuation of `request` takes from it, its frame rate and size, as options.

    Raises `InvalidOptionError` when the form's flags (`parsed`) ask for another frame rate or size,
    rather than drop them silently.
    """
    flags = parsed.overrides
    if flags.fps is not None and flags.fps != request.fps:
        allowed = Text("{fps}, the frame rate of the video extended", fps=request.fps)
        raise InvalidOptionError("fps", str(flags.fps), allowed)
    if flags.width is not None and (flags.width, flags.height) != (request.width, request.height):
        extended = f"{request.width}×{request.height}"
        allowed = Text("{size}, the size of the video extended", size=extended)
        raise InvalidOptionError("size", f"{flags.width}×{flags.height}", allowed)
    return OptionOverrides(
        negative_prompt=negative_prompt or None, fps=request.fps, width=request.width, height=request.height
    )


async def video_to_extend(info: JobInfo, output_dir: Path) -> Path:
    """The MP4 job `info` delivered, on this host under `output_dir`; `NotExtendableError` once it is gone."""
    if info.status is not JobStatus.SUCCEEDED or info.video_path is None:
        raise NotExtendableError(VIDEO_GONE)
    kept = await asyncio.to_thread(_kept_file, output_dir, Path(info.video_path))
    if kept is None:
        raise NotExtendableError(VIDEO_GONE)
    return kept


def animating_model(served: Sequence[ServedModel], original: VideoRequest) -> ServedModel:
    """The model to continue `original` with: its own if it animates pictures, else the first served that does."""
    animating = [model for model in served if model.profile.image_to_video]
    if not animating:
        raise NotExtendableError(NO_ANIMATING_MODEL)
    return next((model for model in animating if model.name == original.model), animating[0])


async def copy_to_extend(video: Path, output_dir: Path) -> str:
    """A copy of `video` for the new job to own (`generation.extend.store_source_video`), made on a thread.

    Raises `NotExtendableError` when the file went meanwhile, `InvalidRequestError` when it is not one
    the engine extends.
    """
    copy = await asyncio.to_thread(_copied, video, output_dir)
    if copy is None:
        raise NotExtendableError(VIDEO_GONE)
    return str(copy)


def _copied(video: Path, output_dir: Path) -> Path | None:
    """`store_source_video`'s copy, or None when `video` was deleted before it was made. Blocking."""
    try:
        return store_source_video(video, output_dir)
    except FileNotFoundError:  # deleted between its check and its copy
        return None
    except InvalidRequestError:
        if not video.exists():  # deleted before its check, which would name the host's path
            return None
        raise


def _kept_file(folder: Path, path: Path) -> Path | None:
    """`path` resolved, if a file under `folder`; the path comes from storage, so it is checked. Blocking."""
    try:
        resolved = inside(folder, path)
    except UnsafeNameError:
        log.warning("a finished job's video lies outside %s: not extended", folder)
        return None
    return resolved if resolved.is_file() else None
