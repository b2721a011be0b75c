"""Extending a video: its last frame as the picture to animate, and the original joined to the continuation.

The contract (`VideoRequest.extend`): whoever asks sets only `extend`, the path of the MP4 to continue,
kept with the job as a picture is (`store_source_video` copies it into the job-files folder,
`output_dir/images`, under a fresh name; the job's retention deletes it with its video). The engine
derives the rest:

* the picture an image-to-video model animates is the video's last frame, fitted to the request's
  width × height exactly as an attached picture is (`generation.conditioning`: scaled to cover,
  centre-cropped) — `last_frame`;
* the delivered MP4 is the original's frames followed by the continuation's minus its first, which is
  the original's last frame again — `join`. The original's frames are fitted to the request's size too
  when the file differs from it (a video upscaled by OUTPUT_SCALE, or shrunk to fit an upload limit),
  and the whole is encoded as every result is (`generation.encode`, at OUTPUT_SCALE).

Frame rates are not resampled: the request's `fps` must be the original's (the bot copies it from the
job it extends; the CLI defaults to it), because dropping or repeating frames of either part would
change the motion the member saw, and a refusal says what to ask for instead.

A video to extend is input like an upload: it is checked from its header before anything is decoded
(`check_source_video`): at most `MAX_SOURCE_BYTES`, `MAX_SOURCE_PIXELS` per frame and
`MAX_SOURCE_FRAMES` (an extension of an extension stays well within it). PyAV and Pillow only, no torch
or numpy at import: the bot copies and checks videos with it.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

import av
from av.video.frame import VideoFrame
from PIL import Image, ImageOps

from generation.conditioning import IMAGES_FOLDER
from generation.encode import encode_frames, probe
from generation.errors import EncodeError, InvalidRequestError
from generation.request import FRAMES
from generation.results import VideoFile

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

MAX_SOURCE_BYTES: Final = 50 * 2**20
"""The largest video accepted to extend: above any upload limit a delivered video was fitted to but
Nitro's, and what Redis holds per waiting extension at most."""
MAX_SOURCE_PIXELS: Final = 4096 * 4096
"""Most pixels per frame of a video to extend (a 1280-pixel video upscaled ×3 is within)."""
MAX_SOURCE_FRAMES: Final = 4 * int(FRAMES.maximum)
"""Most frames of a video to extend: room for a few extensions of the longest video."""
_ALLOWED: Final = (
    f"an MP4 of at most {MAX_SOURCE_BYTES // 2**20} MiB, {MAX_SOURCE_FRAMES} frames and "
    f"{MAX_SOURCE_PIXELS:,} pixels a frame"
)


def check_source_video(path: Path) -> VideoFile:
    """The video at `path` described, once checked to be one that may be extended. Blocking.

    Reads the header only (sizes, frame count, rate). Raises `InvalidRequestError` for field `extend`
    naming the problem and the limits.
    """
    try:
        size = path.stat().st_size
    except OSError as error:
        raise InvalidRequestError("extend", str(path), f"a readable file ({error.strerror})") from None
    if size > MAX_SOURCE_BYTES:
        raise InvalidRequestError("extend", f"{size / 2**20:.1f} MiB", _ALLOWED)
    try:
        video = probe(path)
    except EncodeError:
        raise InvalidRequestError("extend", "a file that is not a readable video", _ALLOWED) from None
    if video.width * video.height > MAX_SOURCE_PIXELS:
        raise InvalidRequestError("extend", f"{video.width}×{video.height} pixels", _ALLOWED)
    if not 1 <= video.num_frames <= MAX_SOURCE_FRAMES:
        raise InvalidRequestError("extend", f"a video of {video.num_frames} frames", _ALLOWED)
    if video.fps < 1:
        raise InvalidRequestError("extend", "a video without a frame rate", _ALLOWED)
    return video


def check_frame_rate(video: VideoFile, fps: int) -> None:
    """Raise `InvalidRequestError` for field `fps` unless `fps` is the frame rate of `video` (no resampling)."""
    if fps != video.fps:
        raise InvalidRequestError("fps", fps, f"{video.fps}, the frame rate of the video extended")


def last_frame(path: Path, width: int, height: int, fps: int) -> Image.Image:
    """The last frame of the video at `path`, fitted to `width`×`height` as a picture is. Blocking.

    Checks the video first (`check_source_video`, and that it runs at `fps`); raises `InvalidRequestError`.
    """
    check_frame_rate(check_source_video(path), fps)
    last: VideoFrame | None = None
    for frame in _decoded(path):
        last = frame
    if last is None:
        raise InvalidRequestError("extend", "a video with no frame to decode", _ALLOWED)
    return _fitted(_picture(last), width, height)


def join(source: Path, continuation: npt.NDArray[np.uint8], fps: int, dest: Path, *, scale: float = 1.0) -> VideoFile:
    """Write to `dest` the frames of `source`, then `continuation`'s (uint8 (T, H, W, 3)) from its second on.

    `continuation` begins with `source`'s last frame (it was the picture the model animated), so that
    frame appears once. Frames of `source` of another size are fitted to the continuation's. Encoded
    at `fps` (which must be `source`'s) and `scale` like any result. Raises `InvalidRequestError`
    (a source not to extend, another frame rate) or `EncodeError`. Blocking.
    """
    check_frame_rate(check_source_video(source), fps)
    height, width = continuation.shape[1:3]
    frames = itertools.chain(
        _original(source, width, height),
        (VideoFrame.from_ndarray(frame, format="rgb24") for frame in continuation[1:]),
    )
    return encode_frames(frames, fps, dest, (width, height), scale=scale)


def store_source_video(video: Path, output_dir: Path) -> Path:
    """A copy of `video`, checked, under `output_dir/images/` with a fresh name, for a job to own. Blocking.

    What a request's `extend` names: each job deletes its own copy with its files. Raises
    `InvalidRequestError` when `video` is gone or not one to extend.
    """
    check_source_video(video)
    folder = output_dir / IMAGES_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(16)}.mp4"
    partial = path.with_suffix(".part")
    shutil.copyfile(video, partial)
    os.replace(partial, path)  # a reader never sees half a file
    return path


def _decoded(path: Path) -> Iterator[VideoFrame]:
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            yield from container.decode(stream)
    except av.FFmpegError as error:
        raise InvalidRequestError("extend", f"a damaged video ({error})", _ALLOWED) from None


def _original(path: Path, width: int, height: int) -> Iterator[VideoFrame]:
    """The frames of the video at `path`, as decoded when already `width`×`height`, else fitted to it."""
    import numpy as np  # here: the bot imports this module to copy and check videos, and has no numpy

    for frame in _decoded(path):
        if (frame.width, frame.height) == (width, height):
            yield frame
        else:
            yield VideoFrame.from_ndarray(np.asarray(_fitted(_picture(frame), width, height)), format="rgb24")


def _picture(frame: VideoFrame) -> Image.Image:
    return Image.fromarray(frame.to_ndarray(format="rgb24"))


def _fitted(picture: Image.Image, width: int, height: int) -> Image.Image:
    """`picture` scaled to cover `width`×`height` and centre-cropped to it, as `conditioning.prepare_image` does."""
    rgb = picture.convert("RGB")
    if rgb.size == (width, height):
        return rgb
    return ImageOps.fit(rgb, (width, height), method=Image.Resampling.LANCZOS)
