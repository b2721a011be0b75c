"""From prompt to playable file: a generated clip encodes to an MP4 that Discord plays inline."""

from __future__ import annotations

from pathlib import Path

import av

from generation.config import EngineSettings
from generation.encode import encode_mp4
from generation.generator import DiffusersGenerator
from generation.request import VideoRequest


def _request() -> VideoRequest:
    return VideoRequest("Spiderman is surfing", num_frames=8, width=64, height=64, steps=3, fps=12, seed=1)


def test_a_generated_clip_becomes_an_h264_yuv420p_mp4_with_every_frame(
    tiny_generator: DiffusersGenerator, tiny_engine_settings: EngineSettings
) -> None:
    [clip] = tiny_generator.generate([_request()])

    video = encode_mp4(clip.frames, clip.request.fps, tiny_engine_settings.output_dir / "clip.mp4")

    with av.open(str(video.path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.average_rate == 12
    assert len(frames) == 8
    assert (frames[0].width, frames[0].height) == (64, 64)


def test_output_scale_upscales_the_encoded_video(tiny_generator: DiffusersGenerator, tmp_path: Path) -> None:
    settings = EngineSettings(output_scale=2.0)
    [clip] = tiny_generator.generate([_request()])

    video = encode_mp4(clip.frames, clip.request.fps, tmp_path / "clip.mp4", scale=settings.output_scale)

    with av.open(str(video.path)) as container:
        first = next(container.decode(video=0))
    assert (first.width, first.height) == (video.width, video.height) == (128, 128)
