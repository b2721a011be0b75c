"""`python -m generation`: the real entry point writes a playable MP4; bad input ends in one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from generation.cli import EXIT_BAD_INPUT, EXIT_FAILED, main
from generation.encode import probe

ROOT = Path(__file__).resolve().parents[2]
TINY_FLAGS = ["--device", "cpu", "--dtype", "float32", "--offload", "none", "--width", "64", "--height", "64"]


def test_the_command_writes_a_playable_mp4_and_prints_the_seed(tiny_model_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "spiderman.mp4"
    command = [sys.executable, "-m", "generation", "Spiderman is surfing", "-o", str(output)]
    flags = ["--model", str(tiny_model_dir), "--frames", "8", "--steps", "3", "--seed", "42", *TINY_FLAGS]

    done = subprocess.run([*command, *flags], cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert "seed 42" in done.stdout
    assert "3/3" in done.stderr
    video = probe(output)
    assert (video.width, video.height, video.num_frames) == (64, 64, 8)


def test_bad_input_exits_non_zero_with_one_line_naming_the_field(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["a cat", "--model", str(tiny_model_dir), "--width", "65"])

    err = capsys.readouterr().err
    assert status == EXIT_BAD_INPUT
    assert err == "error: width must be a multiple of 8 (got 65)\n"


def test_an_out_of_range_setting_exits_non_zero_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["a cat", "--scale", "10"])

    assert status == EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith("error: --scale: ")


def test_a_model_that_cannot_be_loaded_exits_non_zero_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["a cat", "--model", str(tmp_path / "missing"), *TINY_FLAGS])

    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert status == EXIT_FAILED
    assert errors == [f"error: cannot load model {tmp_path / 'missing'}: no such folder"]


def test_download_is_handed_to_the_download_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["download", "--help"])

    assert exited.value.code == 0
    assert "python -m generation download" in capsys.readouterr().out
