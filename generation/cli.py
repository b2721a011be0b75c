"""`python -m generation "a prompt" -o clip.mp4`: one video from the command line, no bot, no queue.

`--extend VIDEO.mp4` continues a video from its last frame on an image-to-video model and writes the
original followed by the continuation (see `generation.extend`). Also `python -m generation download
...`, which fetches a model ahead of time (see `generation.download`). Progress goes to stderr; the
seed, timings and output path go to stdout. Everything that can be checked before the model loads is
checked first (the flags, the settings, what the model's profile can make, the video to extend, the
model folder, that the output can be written), so a mistake costs no wait; each ends with one line on
stderr that names the flag (or the setting, when the value came from the environment) and a non-zero
exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from generation.conditioning import ImageLimits, prepare_image
from generation.config import DTYPES, EngineSettings, OffloadMode
from generation.errors import EngineError, InvalidRequestError
from generation.extend import check_frame_rate, check_source_video
from generation.hub_environment import export_hub_settings
from generation.profiles import PROFILES, ModelProfile
from generation.request import VideoRequest

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
    "model_profile": "profile",
}
# VideoRequest field → the flag that sets it, so a refusal names what the user typed.
_REQUEST_FLAGS = {
    "prompt": "the prompt",
    "negative_prompt": "--negative-prompt",
    "seed": "--seed",
    "steps": "--steps",
    "num_frames": "--frames",
    "guidance_scale": "--guidance",
    "fps": "--fps",
    "width": "--width",
    "height": "--height",
    "image": "--image",
    "extend": "--extend",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default `sys.argv[1:]`); return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["download"]:
        return _download(args[1:])
    options = _parser().parse_args(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    overrides = _setting_overrides(options)
    try:
        settings = EngineSettings(**overrides)
        request = _request(options, settings)
    except (InvalidRequestError, ValidationError) as exc:
        print(f"error: {_one_line(exc, overrides)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    export_hub_settings(settings)
    problem = _output_problem(options.output, settings.output_dir) or _model_problem(settings, overrides)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if request.num_frames != options.frames and options.frames is not None:
        rule = settings.profile.frames.pattern()
        print(f"note: {settings.profile.title} takes {rule} frames: making {request.num_frames}", file=sys.stderr)
    try:
        with tempfile.TemporaryDirectory(prefix="videobot-image-") as folder:
            if options.image is not None:
                request = _with_image(request, options.image, settings, Path(folder))
            return _generate(settings, request, options.output)
    except InvalidRequestError as exc:
        print(f"error: {_one_line(exc, overrides)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _request(options: argparse.Namespace, settings: EngineSettings) -> VideoRequest:
    """The request the flags ask for, with the profile's defaults and its frame rule applied, checked
    against what the profile's model can make (sizes, frames) and, with `--extend`, the video to extend.

    An extension defaults to the video's frame rate (which it must keep) and size (where the model can make it).
    """
    profile = settings.profile
    _check_image_flag(options.image, options.extend, profile)
    source = None if options.extend is None else check_source_video(options.extend)
    size = profile.sizes[0]
    width, height = size.width, size.height
    if source is not None and not (source.width % profile.size_multiple or source.height % profile.size_multiple):
        width, height = source.width, source.height
    default_fps = int(profile.fps.default) if source is None else source.fps
    wanted_frames = int(profile.frames.default) if options.frames is None else options.frames
    request = VideoRequest(
        prompt=options.prompt,
        negative_prompt=profile.negative_prompt if options.negative_prompt is None else options.negative_prompt,
        seed=options.seed,
        steps=settings.default_steps if options.steps is None else options.steps,
        num_frames=wanted_frames,
        guidance_scale=profile.guidance.default if options.guidance is None else options.guidance,
        fps=default_fps if options.fps is None else options.fps,
        width=width if options.width is None else options.width,
        height=height if options.height is None else options.height,
        extend=None if options.extend is None else str(options.extend),
    )
    if source is not None:
        check_frame_rate(source, request.fps)
    request = dataclasses.replace(request, num_frames=profile.frames.fit(wanted_frames))
    profile.check_shape(request.width, request.height, request.num_frames)
    return request


def _check_image_flag(image: Path | None, extend: Path | None, profile: ModelProfile) -> None:
    if image is None and extend is None and profile.image_to_video:
        raise InvalidRequestError("image", "none", f"a picture to animate: {profile.title} makes videos from images")
    if image is not None and not profile.image_to_video:
        raise InvalidRequestError(
            "image", str(image), f"left out: {profile.title} makes videos from text only (see --profile)"
        )
    if extend is not None and not profile.image_to_video:
        raise InvalidRequestError(
            "extend", str(extend), f"left out: {profile.title} makes videos from text only; extending takes an "
            "image-to-video model (see --profile)",
        )  # fmt: skip


def _with_image(request: VideoRequest, image: Path, settings: EngineSettings, folder: Path) -> VideoRequest:
    """`request` with `image` checked, cropped to its size and stored in `folder`."""
    from generation.conditioning import store_image

    try:
        data = image.read_bytes()
    except OSError as error:
        raise InvalidRequestError("image", str(image), f"a readable file ({error.strerror})") from None
    limits = ImageLimits(settings.image_max_bytes, settings.image_max_pixels)
    png = prepare_image(data, request.width, request.height, limits)
    return dataclasses.replace(request, image=str(store_image(png, folder)))


def _download(argv: list[str]) -> int:
    try:
        settings = EngineSettings()
    except ValidationError as exc:
        print(f"error: {_one_line(exc, {})}", file=sys.stderr)
        return EXIT_BAD_INPUT
    export_hub_settings(settings)
    # huggingface_hub reads the HF_* variables when first imported: only after the export above.
    from generation.download import main as download_main

    return download_main(argv, settings)


def _output_problem(output: Path | None, output_dir: Path) -> str | None:
    """Why the video could not be written where it is to go, found before anything loads."""
    if output is None:
        error = _unwritable(output_dir)
        return None if error is None else f"OUTPUT_DIR {output_dir}: cannot write there ({error}); pass -o FILE.mp4"
    if output.is_dir():
        return f"-o {output} is a folder; name a file in it, e.g. -o {output / 'video.mp4'}"
    if output.suffix.lower() != ".mp4":
        # Refused rather than written as MP4 under another name, or converted without being asked.
        return f"-o {output}: only MP4 is written; name the file {output.with_suffix('.mp4').name}"
    error = _unwritable(output.parent)
    return None if error is None else f"-o {output}: cannot write in {output.parent} ({error})"


def _unwritable(folder: Path) -> str | None:
    """None when a file can be created in `folder` (made if missing), else the system's reason."""
    # Trying is the only reliable test: os.access says yes to root everywhere, /proc included.
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=folder, prefix=".videobot-")
        os.close(handle)
        os.unlink(name)
    except OSError as error:
        return error.strerror or str(error)
    return None


def _model_problem(settings: EngineSettings, overrides: dict[str, Any]) -> str | None:
    # Not torch (seconds to import): a missing folder or an uncached model offline is known without it.
    from generation.download import find_model_problem

    problem = find_model_problem(settings, setting="--model" if "model_id" in overrides else "MODEL_ID")
    return None if problem is None else str(problem)


def _generate(settings: EngineSettings, request: VideoRequest, output: Path | None) -> int:
    # torch and diffusers load in seconds: only once the arguments are known to be good.
    from generation.encode import encode_mp4
    from generation.extend import join
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
    if request.extend is not None:
        video = join(Path(request.extend), clip.frames, request.fps, path, scale=settings.output_scale)
    else:
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {importlib.metadata.version('videobot')}")
    parser.add_argument("prompt", help="what the video shows")
    parser.add_argument(
        "-o", "--output", type=Path, help="the .mp4 file to write (default: OUTPUT_DIR/<prompt>-<seed>.mp4)"
    )
    parser.add_argument("--model", help="hub id or local folder of the pipeline (default: MODEL_ID setting)")
    parser.add_argument(
        "--profile", choices=list(PROFILES), help="model profile (default: MODEL_PROFILE, else picked from the model)"
    )
    parser.add_argument("--image", type=Path, help="picture to animate (image-to-video models only)")
    parser.add_argument(
        "--extend",
        type=Path,
        metavar="VIDEO.mp4",
        help="continue this video from its last frame (image-to-video models only); writes the two joined",
    )
    parser.add_argument("--steps", type=int, help="denoising steps (default: DEFAULT_STEPS setting)")
    parser.add_argument("--frames", type=int, help="number of frames (default: the profile's)")
    parser.add_argument("--seed", type=int, help="seed for reproducible output (default: a fresh one)")
    parser.add_argument("--height", type=int, help="height in pixels (default: the profile's first size)")
    parser.add_argument("--width", type=int, help="width in pixels (default: the profile's first size)")
    parser.add_argument("--fps", type=int, help="frames per second of the MP4 (default: the profile's)")
    parser.add_argument("--negative-prompt", help="what the video should not show (default: the profile's)")
    parser.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the profile's)")
    parser.add_argument("--offload", choices=[mode.value for mode in OffloadMode], help="CPU offload mode")
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--dtype", choices=DTYPES, help="weight precision")
    parser.add_argument("--variant", help="weight variant to load, e.g. fp16 ('' for the default weights)")
    parser.add_argument("--scale", type=float, help="upscale factor applied before encoding (1 to 4)")
    return parser


def _setting_overrides(options: argparse.Namespace) -> dict[str, Any]:
    # Flags left out keep what the environment / .env says.
    given = {setting: getattr(options, flag) for setting, flag in _SETTING_FLAGS.items()}
    return {setting: value for setting, value in given.items() if value is not None}


def _slug(prompt: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:40] or "video"


def _one_line(exc: Exception, overrides: dict[str, Any]) -> str:
    """The first problem, named as the user set it: by its flag, or by its variable if from the environment."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        setting = ".".join(str(part) for part in first["loc"])
        name = f"--{_SETTING_FLAGS[setting]}" if setting in overrides else setting.upper()
        return f"{name}: {first['msg'].removeprefix('Value error, ')} (got {first.get('input')!r})"
    if isinstance(exc, InvalidRequestError):
        return f"{_REQUEST_FLAGS.get(exc.field, exc.field)} must be {exc.allowed} (got {exc.value!r})"
    return str(exc)
