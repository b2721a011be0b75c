"""`python -m generation "a prompt" -o clip.mp4`: one video from the command line, no bot, no queue.

Also `python -m generation download ...`, which fetches a model ahead of time (see `generation.download`).
Progress goes to stderr; the seed, timings and output path go to stdout. Bad input and models that cannot
be loaded end with one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from generation.config import EngineSettings, OffloadMode
from generation.errors import EngineError, InvalidRequestError
from generation.request import FPS, FRAMES, GUIDANCE, SIZE, VideoRequest

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
_BAR_WIDTH = 30
# EngineSettings field → the flag (argparse dest) that overrides it.
_SETTING_FLAGS = {
    "model_id": "model",
    "device": "device",
    "torch_dtype": "dtype",
    "offload": "offload",
    "model_variant": "variant",
    "output_scale": "scale",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default `sys.argv[1:]`); return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["download"]:
        from generation.download import main as download_main

        return download_main(args[1:])
    options = _parser().parse_args(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = EngineSettings(**_setting_overrides(options))
        request = VideoRequest(
            prompt=options.prompt,
            negative_prompt=options.negative_prompt,
            seed=options.seed,
            steps=settings.default_steps if options.steps is None else options.steps,
            num_frames=options.frames,
            guidance_scale=options.guidance,
            fps=options.fps,
            width=options.width,
            height=options.height,
        )
    except (InvalidRequestError, ValidationError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return _generate(settings, request, options.output)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _generate(settings: EngineSettings, request: VideoRequest, output: Path | None) -> int:
    # torch and diffusers load in seconds: only once the arguments are known to be good.
    from generation.encode import encode_mp4
    from generation.generator import DiffusersGenerator

    _quiet_library_progress_bars()
    generator = DiffusersGenerator(settings)
    print(f"loading {settings.model_id} ...", file=sys.stderr)
    load_s = generator.load()
    bar = _ProgressBar(sys.stderr)
    clip = generator.generate([request], on_progress=bar.update)[0]
    bar.close()
    path = output or settings.output_dir / f"{_slug(request.prompt)}-{clip.seed}.mp4"
    started = time.perf_counter()
    video = encode_mp4(clip.frames, request.fps, path, scale=settings.output_scale)
    encode_s = time.perf_counter() - started
    print(f"seed {clip.seed}")
    print(
        f"load {load_s:.2f} s, denoise {clip.timings.denoise_s:.2f} s, decode {clip.timings.decode_s:.2f} s, "
        f"encode {encode_s:.2f} s"
    )
    print(f"wrote {video.path} ({video.width}×{video.height}, {video.num_frames} frames, {video.size_bytes} B)")
    return 0


def _quiet_library_progress_bars() -> None:
    # Our own bar is the only one wanted on stderr; the libraries' loading bars would interleave with it.
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]


class _ProgressBar:
    """A one-line text progress bar redrawn in place with carriage returns."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._started = time.perf_counter()
        self._drawn = False

    def update(self, step: int, total: int) -> None:
        """Redraw for `step` of `total` denoising steps."""
        filled = _BAR_WIDTH * step // max(total, 1)
        elapsed = time.perf_counter() - self._started
        bar = "#" * filled + "." * (_BAR_WIDTH - filled)
        self._stream.write(f"\rdenoising [{bar}] {step}/{total} {elapsed:.1f} s")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m generation",
        description="Generate one video from a text prompt (`python -m generation download` fetches models).",
    )
    parser.add_argument("prompt", help="what the video shows")
    parser.add_argument("-o", "--output", type=Path, help="MP4 to write (default: OUTPUT_DIR/<prompt>-<seed>.mp4)")
    parser.add_argument("--model", help="hub id or local folder of the pipeline (default: MODEL_ID setting)")
    parser.add_argument("--steps", type=int, help="denoising steps (default: DEFAULT_STEPS setting)")
    parser.add_argument("--frames", type=int, default=int(FRAMES.default), help="number of frames")
    parser.add_argument("--seed", type=int, help="seed for reproducible output (default: a fresh one)")
    parser.add_argument("--height", type=int, default=int(SIZE.default), help="height in pixels")
    parser.add_argument("--width", type=int, default=int(SIZE.default), help="width in pixels")
    parser.add_argument("--fps", type=int, default=int(FPS.default), help="frames per second of the MP4")
    parser.add_argument("--negative-prompt", default="", help="what the video should not show")
    parser.add_argument("--guidance", type=float, default=GUIDANCE.default, help="classifier-free guidance scale")
    parser.add_argument("--offload", choices=[mode.value for mode in OffloadMode], help="CPU offload mode")
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], help="weight precision")
    parser.add_argument("--variant", help="weight variant to load, e.g. fp16 ('' for the default weights)")
    parser.add_argument("--scale", type=float, help="upscale factor applied before encoding (1 to 4)")
    return parser


def _setting_overrides(options: argparse.Namespace) -> dict[str, Any]:
    # Flags left out keep what the environment / .env says.
    given = {setting: getattr(options, flag) for setting, flag in _SETTING_FLAGS.items()}
    return {setting: value for setting, value in given.items() if value is not None}


def _slug(prompt: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:40] or "video"


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        setting = ".".join(str(part) for part in first["loc"])
        flag = f"--{_SETTING_FLAGS[setting]}" if setting in _SETTING_FLAGS else setting
        return f"{flag}: {first['msg']} (got {first.get('input')!r})"
    return str(exc)
