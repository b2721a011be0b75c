"""What a finished generation hands back: frames or an encoded file, with timings and the seed used."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generation.request import VideoRequest

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


@dataclass(frozen=True)
class Timings:
    """Wall-clock seconds spent in each stage of one job (load is 0 once the model is resident)."""

    load_s: float = 0.0
    denoise_s: float = 0.0
    decode_s: float = 0.0
    encode_s: float = 0.0

    @property
    def total_s(self) -> float:
        """Sum of all stages."""
        return self.load_s + self.denoise_s + self.decode_s + self.encode_s


@dataclass(frozen=True)
class GeneratedClip:
    """Raw output of the pipeline for one request: uint8 frames shaped (frames, height, width, 3)."""

    request: VideoRequest
    seed: int
    frames: npt.NDArray[np.uint8]
    timings: Timings


@dataclass(frozen=True)
class VideoFile:
    """An encoded MP4 on disk, ready to upload."""

    path: Path
    size_bytes: int
    width: int
    height: int
    num_frames: int
    fps: int


@dataclass(frozen=True)
class VideoResult:
    """A finished job: the MP4, the seed actually used (for reproduction) and per-stage timings."""

    request: VideoRequest
    seed: int
    video: VideoFile
    timings: Timings
