"""`python -m generation`: the real entry point writes a playable MP4; bad input ends in one clear line,
in the flags the user typed, before anything slow loads."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from generation.cli import EXIT_BAD_INPUT, main
from generation.encode import probe
from tests.ops.entry_points import Finished, clean_environment, run_module

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

    done = subprocess.run([*command, *flags], cwd=ROOT, capture_output=True, text=True, timeout=120, umask=0o022)

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
