"""The GPU side of the queue: one dedicated thread that loads, generates and encodes, one call at a time.

Everything that blocks runs here, never on the event loop: `generator.load()`, `generator.generate()`
and the encoder. The queue hands over a batch and gets an asyncio future back; progress comes back to
the loop through `call_soon_threadsafe`. Because the thread is the only one that touches the generator,
a generator need not be thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from generation.clock import Clock
from generation.config import EngineSettings
from generation.errors import EncodeError, InvalidRequestError
from generation.protocol import CancelToken, Haltable, VideoGenerator
from generation.queue.reasons import NOT_ENCODABLE
from generation.request import VideoRequest
from generation.results import GeneratedClip, Timings, VideoFile

log = logging.getLogger(__name__)

Encoder = Callable[[GeneratedClip, Path], VideoFile]
"""Writes one clip to an MP4 at the path given and describes the file. Blocking; runs on the GPU thread."""


def mp4_encoder(engine: EngineSettings) -> Encoder:
    """The default encoder: H.264 MP4 through `generation.encode`, upscaled by `engine.output_scale`; an
    extension's clip is joined to the video it continues (`generation.extend.join`)."""

    def encode(clip: GeneratedClip, path: Path) -> VideoFile:
        # Imported on first use: PyAV is only needed once a job runs, not to build or inspect a queue.
        from generation.encode import encode_mp4
        from generation.extend import join

        request = clip.request
        if request.extend is not None:
            try:
                return join(Path(request.extend), clip.frames, request.fps, path, scale=engine.output_scale)
            except InvalidRequestError as error:
                raise EncodeError(f"this video cannot be extended: {error}") from None
        return encode_mp4(clip.frames, request.fps, path, scale=engine.output_scale)

    return encode


@dataclass(frozen=True)
class Encoded:
    """A clip that was generated and written to disk."""

    video: VideoFile
    seed: int
    timings: Timings


@dataclass(frozen=True)
class EncodeFailed:
    """A clip that was generated but could not be encoded; `reason` is for the user."""

    reason: str


ClipOutcome = Encoded | EncodeFailed | None
"""Per request of a batch; None when the clip was not wanted any more (its job was cancelled)."""


@dataclass(frozen=True)
class BatchOutcome:
    """What one `generate` call produced, and how long it took without loading the model."""

    clips: list[ClipOutcome]
    load_s: float
    run_s: float


class GpuThread:
    """The single thread that owns the generator. Blocking work only, in the order it was handed over.

    Calls and encodes are timed on `clock` (its `monotonic`, read on this thread), the queue's clock,
    so the ETAs learnt from them are on the same scale as the elapsed time they are compared with.
    """

    def __init__(self, generator: VideoGenerator, encoder: Encoder, clock: Clock) -> None:
        self._generator = generator
        self._encoder = encoder
        self._clock = clock
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpu-worker")
        # Written by the GPU thread only; bools are read atomically by health checks on the loop.
        self.load_failed = False
        self.loaded = False

    def load(self) -> asyncio.Future[float]:
        """Load the model ahead of the first job (on the GPU thread); the future gives the seconds."""
        return asyncio.get_running_loop().run_in_executor(self._thread, self._load)

    def _load(self) -> float:
        try:
            seconds = self._generator.load()
        except BaseException:
            self.load_failed = True
            raise
        self.load_failed = False
        self.loaded = True
        return seconds

    def run(
        self,
        requests: Sequence[VideoRequest],
        paths: Sequence[Path],
        *,
        token: CancelToken,
        on_progress: Callable[[int, int], None],
        wanted: Callable[[int], bool],
    ) -> asyncio.Future[BatchOutcome]:
        """Generate `requests` as one batch and encode clip i to `paths[i]` if `wanted(i)` still holds.

        `on_progress(step, total)` is called on the event loop. The future raises what `generate`
        raised (cancellation, out of memory, failure); encoding errors are per clip.
        """
        loop = asyncio.get_running_loop()

        def progress(step: int, total: int) -> None:
            try:
                loop.call_soon_threadsafe(on_progress, step, total)
            except RuntimeError:  # the loop is gone (the process is going down): nobody to tell
                token.cancel()

        def work() -> BatchOutcome:
            load_s = self._load()
            started = self._clock.monotonic()
            clips = self._generator.generate(requests, progress, token)
            outcomes = [
                self._encode(clip, path) if wanted(index) else None
                for index, (clip, path) in enumerate(zip(clips, paths, strict=True))
            ]
            return BatchOutcome(outcomes, load_s, self._clock.monotonic() - started)

        return loop.run_in_executor(self._thread, work)

    def halt(self) -> None:
        """End the call in progress now if the generator can be stopped from outside (a GPU process is
        killed: a model load, or a call deaf to its token); otherwise it is left to finish."""
        if isinstance(self._generator, Haltable):
            self._generator.halt()

    def shutdown(self) -> None:
        """Stop taking work; a call in progress finishes on its own."""
        self._thread.shutdown(wait=False, cancel_futures=True)

    def _encode(self, clip: GeneratedClip, path: Path) -> ClipOutcome:
        started = self._clock.monotonic()
        try:
            video = self._encoder(clip, path)
        except EncodeError as error:
            return EncodeFailed(str(error))
        except Exception:
            log.exception("encoding failed path=%s", path)
            return EncodeFailed(NOT_ENCODABLE)
        timings = Timings(
            load_s=clip.timings.load_s,
            denoise_s=clip.timings.denoise_s,
            decode_s=clip.timings.decode_s,
            encode_s=self._clock.monotonic() - started,
        )
        return Encoded(video, clip.seed, timings)
