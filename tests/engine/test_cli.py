"""`python -m generation`: the real entry point writes a playable MP4; bad input ends in one clear line,
in the flags the user typed, before anything slow loads."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from generation.cli import EXIT_BAD_INPUT, main
from generation.encode import probe
from tests.fixtures.pictures import solid_png
from tests.fixtures.videos import colour_video, decoded, nearest
from tests.ops.entry_points import Finished, clean_environment, run_module
from tests.patience import PATIENCE_S

ROOT = Path(__file__).resolve().parents[2]
# What the command loads only to generate: a mistake found before it costs no wait.
GPU_STACK = {"torch", "diffusers", "transformers"}
TINY_FLAGS = ["--device", "cpu", "--dtype", "float32", "--offload", "none", "--width", "64", "--height", "64"]


def generate(folder: Path, *args: str, **variables: str) -> Finished:
    """Run `python -m generation args...` in `folder`, with no setting from the machine running the tests."""
    return run_module("generation", *args, cwd=folder, env=clean_environment(**variables))


def test_the_command_writes_a_playable_mp4_with_the_usual_mode_and_prints_the_seed(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    output = tmp_path / "spiderman.mp4"
    command = [sys.executable, "-m", "generation", "Spiderman is surfing", "-o", str(output)]
    flags = ["--model", str(tiny_model_dir), "--frames", "8", "--steps", "3", "--seed", "42", *TINY_FLAGS]

    done = subprocess.run(
        [*command, *flags], cwd=ROOT, capture_output=True, text=True, timeout=2 * PATIENCE_S, umask=0o022
    )

    assert done.returncode == 0, done.stderr
    assert "seed 42" in done.stdout
    assert "3/3" in done.stderr
    video = probe(output)
    assert (video.width, video.height, video.num_frames) == (64, 64, 8)
    assert stat.S_IMODE(output.stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (["--width", "65"], "error: --width must be a multiple of 8 (got 65)"),
        (["--frames", "100"], "error: --frames must be from 1 to 32 frames (got 100)"),
        (["--guidance", "40"], "error: --guidance must be between 0 and 30 (got 40.0)"),
        (["--scale", "10"], "error: --scale: Input should be less than or equal to 4 (got 10.0)"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag(flags: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["a cat", *flags])

    assert status == EXIT_BAD_INPUT
    assert capsys.readouterr().err == f"{line}\n"


def test_a_bad_setting_from_the_environment_is_named_as_the_variable(tmp_path: Path) -> None:
    done = generate(tmp_path, "a cat", DEVICE="tpu")

    assert done.status == EXIT_BAD_INPUT
    assert done.stderr_lines == [
        "error: DEVICE: must be auto, cpu, cuda or cuda:N (N the GPU's index, e.g. cuda:0) (got 'tpu')"
    ]


def test_a_missing_model_folder_is_one_line_before_torch_loads(tmp_path: Path) -> None:
    done = generate(tmp_path, "a cat", "--model", str(tmp_path / "missing"))

    assert done.status == EXIT_BAD_INPUT
    assert done.stderr_lines == [
        f"error: --model: {str(tmp_path / 'missing')!r} is not a folder on this machine. Fix: point --model at a "
        "folder saved with `pipeline.save_pretrained()`, or at a Hub model id."
    ]
    assert not done.imported & GPU_STACK


@pytest.mark.parametrize(
    ("output", "line"),
    [
        ("{tmp}", "error: -o {tmp} is a folder; name a file in it, e.g. -o {tmp}/video.mp4"),
        ("/proc/clip.mp4", "error: -o /proc/clip.mp4: cannot write in /proc (No such file or directory)"),
        ("{tmp}/clip.gif", "error: -o {tmp}/clip.gif: only MP4 is written; name the file clip.mp4"),
    ],
)
def test_an_output_that_cannot_be_written_is_one_line_before_anything_loads(
    tiny_model_dir: Path, tmp_path: Path, output: str, line: str
) -> None:
    done = generate(tmp_path, "a cat", "--model", str(tiny_model_dir), "-o", output.format(tmp=tmp_path))

    assert done.status == EXIT_BAD_INPUT
    assert done.stderr_lines == [line.format(tmp=tmp_path)]
    assert not done.imported & GPU_STACK
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("flag", "start"), [("--help", "usage: python -m generation"), ("--version", "python")])
def test_help_and_version_answer_without_loading_anything(tmp_path: Path, flag: str, start: str) -> None:
    done = generate(tmp_path, flag)

    assert done.status == 0
    assert done.stdout.startswith(start)
    assert not done.imported & (GPU_STACK | {"huggingface_hub"})


def test_download_is_handed_to_the_download_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["download", "--help"])

    assert exited.value.code == 0
    assert "python -m generation download" in capsys.readouterr().out


LTX_FLAGS = ["--device", "cpu", "--dtype", "float32", "--offload", "none", "--steps", "2", "--seed", "3"]


def test_ltx_video_rounds_the_frame_count_to_its_rule_and_says_so(tiny_ltx_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "kite.mp4"

    done = generate(
        tmp_path, "a red kite", "--model", str(tiny_ltx_dir), "--frames", "16", "--width", "64", "--height", "64",
        "-o", str(output), *LTX_FLAGS,
    )  # fmt: skip

    assert done.status == 0, done.stderr
    assert "note: LTX-Video (text-to-video) takes 8k+1 frames: making 17" in done.stderr_lines
    video = probe(output)
    assert (video.width, video.height, video.num_frames) == (64, 64, 17)


def test_an_image_to_video_model_animates_the_image_given(tiny_ltx_i2v_dir: Path, tmp_path: Path) -> None:
    picture = tmp_path / "sunset.png"
    picture.write_bytes(solid_png((255, 128, 0)))
    output = tmp_path / "sunset.mp4"

    done = generate(
        tmp_path, "the sun sets", "--model", str(tiny_ltx_i2v_dir), "--image", str(picture), "--frames", "9",
        "--width", "64", "--height", "64", "-o", str(output), *LTX_FLAGS,
    )  # fmt: skip

    assert done.status == 0, done.stderr
    assert probe(output).num_frames == 9


@pytest.mark.parametrize(
    ("model", "flags", "line"),
    [
        ("tiny_ltx_i2v_dir", [], "error: --image must be a picture to animate: LTX-Video (image-to-video) makes"),
        ("tiny_ltx_dir", ["--image", "{tmp}/a.png"], "error: --image must be left out: LTX-Video (text-to-video)"),
        ("tiny_ltx_i2v_dir", ["--image", "{tmp}/a.png"], "error: --image must be a PNG, JPEG or WebP"),
    ],
    ids=["missing", "text-model", "not-a-picture"],
)
def test_a_wrong_image_flag_is_one_line_before_the_model_loads(
    model: str, flags: list[str], line: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    (tmp_path / "a.png").write_text("not a picture")
    folder: Path = request.getfixturevalue(model)

    done = generate(tmp_path, "a cat", "--model", str(folder), *(flag.format(tmp=tmp_path) for flag in flags))

    assert done.status == EXIT_BAD_INPUT
    assert len(done.stderr_lines) == 1
    assert done.stderr_lines[0].startswith(line)
    assert not done.imported & GPU_STACK


def test_extend_writes_the_video_followed_by_its_continuation_at_its_size_and_rate(
    tiny_ltx_i2v_dir: Path, tmp_path: Path
) -> None:
    original = colour_video(tmp_path / "before.mp4", [(level, level, level) for level in (0, 60, 120, 180)], fps=12)
    output = tmp_path / "after.mp4"

    done = generate(
        tmp_path, "night falls", "--model", str(tiny_ltx_i2v_dir), "--extend", str(original), "--frames", "9",
        "-o", str(output), *LTX_FLAGS,
    )  # fmt: skip

    assert done.status == 0, done.stderr
    video = probe(output)
    assert (video.width, video.height, video.num_frames, video.fps) == (64, 64, 4 + 9 - 1, 12)
    assert nearest(decoded(output)[:4], decoded(original)) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("model", "flags", "line"),
    [
        ("tiny_ltx_dir", [], "error: --extend must be left out: LTX-Video (text-to-video) makes videos from text"),
        ("tiny_ltx_i2v_dir", ["--fps", "24"], "error: --fps must be 8, the frame rate of the video extended (got 24)"),
        ("tiny_ltx_i2v_dir", ["--image", "{tmp}/a.png"], "error: --image must be none when extending a video"),
    ],
    ids=["text-model", "other-rate", "with-a-picture"],
)
def test_a_wrong_extension_is_one_line_before_the_model_loads(
    model: str, flags: list[str], line: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    (tmp_path / "a.png").write_bytes(solid_png((1, 2, 3)))
    original = colour_video(tmp_path / "before.mp4", [(0, 0, 0), (9, 9, 9)], fps=8)
    folder: Path = request.getfixturevalue(model)
    given = [flag.format(tmp=tmp_path) for flag in flags]

    done = generate(tmp_path, "a cat", "--model", str(folder), "--extend", str(original), *given)

    assert done.status == EXIT_BAD_INPUT
    assert len(done.stderr_lines) == 1
    assert done.stderr_lines[0].startswith(line)
    assert not done.imported & GPU_STACK


def test_a_size_the_model_cannot_make_is_one_line_before_the_model_loads(tiny_ltx_dir: Path, tmp_path: Path) -> None:
    # The folder names the tiny LTX pipeline but holds none of its weights: loading it would fail.
    unloadable = tmp_path / "unloadable-ltx"
    unloadable.mkdir()
    shutil.copy(tiny_ltx_dir / "model_index.json", unloadable)

    done = generate(tmp_path, "a cat", "--model", str(unloadable), "--width", "72", "--height", "64", *LTX_FLAGS)

    assert done.status == EXIT_BAD_INPUT
    assert done.stderr_lines == ["error: --width must be a multiple of 32 for LTX-Video (text-to-video) (got 72)"]
    assert not done.imported & GPU_STACK
