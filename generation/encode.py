"""Frames to an MP4 every Discord client plays inline, and re-encoding it to fit an upload limit.

Output is always H.264 (libx264), yuv420p, even dimensions, BT.709-tagged and `+faststart` (the index at
the front, so playback starts before the download ends). The same frames make the same bytes on any host
and under any CPU limit: x264's thread count is fixed, and the file carries no time stamp. Everything runs
in-process through PyAV: no ffmpeg subprocess, no torch. Each call owns its own containers, so the
functions are thread-safe; they block, so call them off the event loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import shutil
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Final

import av
from av.video.frame import VideoFrame
from av.video.reformatter import Colorspace, Interpolation

from generation.errors import DoesNotFitError, EncodeError
from generation.results import VideoFile

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

log = logging.getLogger(__name__)

# RGB is converted with the BT.601 matrix (what players assume for untagged SD video, and at equal CRF
# up to ~40% smaller than BT.709 on grainy content) and tagged as such, with sRGB's BT.709 primaries and
# transfer: untagged, a clip upscaled past 720 lines would be decoded as BT.709 and shift colour.
_COLOUR_TAGS: Final = {"color_primaries": 1, "color_trc": 1, "colorspace": 6}  # ffmpeg: BT.709, SMPTE 170M
_X264_PRESET: Final = "medium"
# x264 splits its work by its thread count (slices, or which frames see which statistics), so the bytes
# depend on it; left to FFmpeg it is the number of CPUs the process may use, which differs between hosts,
# containers and the bot and the CLI. A fixed count makes the same frames the same MP4 everywhere; frame
# threads (x264 keeps them deterministic) compress better than slices.
_X264_THREADS: Final = 4
# Except under a bitrate cap: x264's row-level VBV reads the other threads' progress, so a capped encode
# on more than one thread comes out different from run to run. Re-encodes to fit a budget use one.
_X264_CAPPED_THREADS: Final = 1
# Share of the budget given to the video stream: the rest covers the MP4 index and x264's overshoot.
_BUDGET_MARGIN: Final = 0.92
_CONTAINER_OVERHEAD_BYTES: Final = 4096
_PER_FRAME_OVERHEAD_BYTES: Final = 32
_MIN_BITRATE: Final = 16_000
_SHRINK_STEPS: Final = (1.0, 0.75, 0.5, 0.35, 0.25)
_MIN_SIDE: Final = 16


def encode_mp4(frames: npt.NDArray[np.uint8], fps: int, path: Path, *, scale: float = 1.0, crf: int = 18) -> VideoFile:
    """Encode RGB frames shaped (T, H, W, 3) to an H.264 MP4 at `path`, written atomically.

    `scale` resizes with Lanczos before encoding (upscaling sharpens less than players do). An odd
    width or height loses its last column or row, because yuv420p needs even sizes. `crf` is x264's
    constant quality (lower is better; 18 is visually lossless). Blocking.
    """
    # Imported here: the bot process imports this module for fit_to_budget, which needs no numpy, and
    # a bot installed without the GPU stack has none.
    import numpy as np

    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise EncodeError(f"frames must be uint8 shaped (frames, height, width, 3), got {frames.dtype} {frames.shape}")
    count, height, width = frames.shape[:3]
    if count == 0 or height < 2 or width < 2:
        raise EncodeError(f"cannot encode {count} frames of {width}×{height}")
    if fps < 1:
        raise EncodeError(f"fps must be at least 1, got {fps}")
    out_width, out_height = _even(width * scale), _even(height * scale)
    source = (VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24") for frame in frames)
    _write(source, fps, path, out_width, out_height, {"crf": str(crf)}, _X264_THREADS)
    return _probe_or_remove(path)


def encode_frames(
    frames: Iterable[VideoFrame], fps: int, path: Path, size: tuple[int, int], *, scale: float = 1.0, crf: int = 18
) -> VideoFile:
    """Encode decoded frames (any pixel format, resized to `size` × `scale` as needed) to an MP4 at `path`.

    For frames that stream from elsewhere (another video's, joined to new ones) rather than one array;
    otherwise as `encode_mp4`. Blocking.
    """
    if fps < 1:
        raise EncodeError(f"fps must be at least 1, got {fps}")
    width, height = size
    _write(frames, fps, path, _even(width * scale), _even(height * scale), {"crf": str(crf)}, _X264_THREADS)
    return _probe_or_remove(path)


def fit_to_budget(source: Path, budget_bytes: int, dest: Path) -> VideoFile:
    """Return `source` as an MP4 at `dest` no larger than `budget_bytes` (Discord's upload limit).

    A file that fits is copied as is. Otherwise it is re-encoded at the bitrate the budget allows for
    its duration, and if x264 cannot get that small at full size, at smaller sizes in steps. Raises
    `DoesNotFitError` when even the smallest attempt is too big. Blocking.
    """
    original = probe(source)
    if original.size_bytes <= budget_bytes:
        if source.resolve() != dest.resolve():
            _atomic_copy(source, dest)
        return probe(dest)
    duration_s = original.num_frames / max(1, original.fps)
    # Attempts go to a side file, so `dest` may be `source` itself and a failed fit leaves both untouched.
    scratch = dest.with_name(f".{dest.stem}-fitting{dest.suffix}")
    payload = budget_bytes * _BUDGET_MARGIN - _CONTAINER_OVERHEAD_BYTES
    payload -= _PER_FRAME_OVERHEAD_BYTES * original.num_frames
    budget_bitrate = max(_MIN_BITRATE, int(payload * 8 / duration_s))
    smallest = original.size_bytes
    for factor in _SHRINK_STEPS:
        width, height = _even(original.width * factor), _even(original.height * factor)
        if factor < 1.0 and min(width, height) < _MIN_SIDE:
            break
        # x264's one-pass rate control overshoots on short clips; one retry with the bitrate corrected by
        # the overshoot usually lands it. A size where even that fails is too detailed (x264 is at its
        # coarsest quantiser), so the next try is smaller, starting again from the budget's bitrate.
        bitrate = budget_bitrate
        for _ in range(2):
            attempt = _encode_attempt(source, original.fps, scratch, width, height, bitrate)
            smallest = min(smallest, attempt.size_bytes)
            if attempt.size_bytes <= budget_bytes:
                scratch.replace(dest)
                log.info(
                    "fitted %s into %d of %d bytes at %dx%d",
                    source.name,
                    attempt.size_bytes,
                    budget_bytes,
                    width,
                    height,
                )
                return dataclasses.replace(attempt, path=dest)
            scratch.unlink()
            bitrate = max(_MIN_BITRATE, int(bitrate * budget_bytes / attempt.size_bytes * _BUDGET_MARGIN))
    raise DoesNotFitError(budget_bytes, smallest)


def probe(path: Path) -> VideoFile:
    """Read size, dimensions, frame count and frame rate of the first video stream of `path`."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            count = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
            rate = stream.average_rate or stream.guessed_rate or Fraction(0)
            return VideoFile(
                path=path,
                size_bytes=path.stat().st_size,
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                num_frames=count,
                fps=round(rate),
            )
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise EncodeError(f"cannot read video {path.name}: {exc}") from exc


def _encode_attempt(source: Path, fps: int, dest: Path, width: int, height: int, bitrate: int) -> VideoFile:
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        options = {"b": str(bitrate), "maxrate": str(bitrate), "bufsize": str(bitrate)}
        _write(container.decode(stream), fps, dest, width, height, options, _X264_CAPPED_THREADS)
    return _probe_or_remove(dest)


def _probe_or_remove(path: Path) -> VideoFile:
    """`probe` a file just written, deleting it if it cannot be read back: a failed encode leaves no file."""
    try:
        return probe(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _write(
    frames: Iterable[VideoFrame],
    fps: int,
    path: Path,
    width: int,
    height: int,
    options: dict[str, str],
    threads: int,
) -> None:
    """Encode `frames` (any size or pixel format) to `path` on `threads` x264 frame threads, via a temporary
    file in the same folder."""
    temp = _new_file_beside(path)
    try:
        # faststart rewrites the file after the last packet, so it needs a real, seekable file.
        with av.open(str(temp), "w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=fps, options={"preset": _X264_PRESET, **options})
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.thread_type = "FRAME"
            stream.codec_context.thread_count = threads
            for name, value in _COLOUR_TAGS.items():
                setattr(stream.codec_context, name, value)
            for index, frame in enumerate(frames):
                out = frame.reformat(
                    width=width,
                    height=height,
                    format="yuv420p",
                    dst_colorspace=Colorspace.ITU601,
                    interpolation=Interpolation.LANCZOS,
                )
                out.pts, out.time_base = index, Fraction(1, fps)
                container.mux(stream.encode(out))
            container.mux(stream.encode(None))
        temp.replace(path)
    except av.FFmpegError as exc:
        raise EncodeError(f"could not encode {path.name}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _atomic_copy(source: Path, dest: Path) -> None:
    temp = _new_file_beside(dest)
    try:
        shutil.copyfile(source, temp)
        temp.replace(dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _new_file_beside(dest: Path) -> Path:
    """A new, empty, hidden file in `dest`'s folder (made if missing), to be renamed over `dest` when written.

    Created as `open()` creates files, so it gets the usual mode (0666 less the umask): `mkstemp`'s are
    0600, which other users of the machine, or a web server publishing OUTPUT_DIR, cannot read.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    while True:
        temp = dest.with_name(f".{dest.stem}-{secrets.token_hex(4)}{dest.suffix}")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temp


def _even(size: float) -> int:
    return max(2, round(size) // 2 * 2)
