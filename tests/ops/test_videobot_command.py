"""`videobot` (`python -m bot`) as a new operator meets it: a mistake in a setting is one line on stderr
naming the setting and the fix, exit status 78, no traceback, before logging or anything heavy loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.startup.problems import EXIT_CONFIG
from tests.ops.entry_points import TOKEN, Finished, clean_environment, run_module

# What the bot loads only once its settings are known to be good (seconds, or minutes with a model).
HEAVY = {"discord", "torch", "diffusers", "huggingface_hub"}


def videobot(folder: Path, *args: str, env_file: str = "", **variables: str) -> Finished:
    """Run the bot in `folder` with `.env` holding `env_file` and these environment variables."""
    (folder / ".env").write_text(env_file)
    return run_module("bot", *args, cwd=folder, env=clean_environment(**variables))


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        (
            "LOG_LEVEL",
            "verbose",
            "error: LOG_LEVEL='verbose' is invalid: must be DEBUG, INFO, WARNING or ERROR. "
            "Fix: correct LOG_LEVEL in .env or the environment: DEBUG, INFO, WARNING or ERROR.",
        ),
        (
            "VIDEO_SIZES",
            "odd:100x100",
            "error: VIDEO_SIZES='odd:100x100' is invalid: size odd has a side of 100: each side must be a "
            "multiple of 8 from 64 to 1280. "
            "Fix: correct VIDEO_SIZES in .env or the environment: name:WIDTHxHEIGHT choices, first is default; "
            "default: profile.",
        ),
        (
            "BLOCKLIST",
            "re:(",
            "error: BLOCKLIST='re:(' is invalid: blocklist entry 're:(' is not a valid regular expression: "
            "missing ), unterminated subpattern at position 0. Fix: correct BLOCKLIST in .env or the "
            "environment: words or phrases, comma-separated or a JSON list; re:PATTERN = regex.",
        ),
        (
            "DEVICE",
            "tpu",
            "error: DEVICE='tpu' is invalid: must be auto, cpu, cuda or cuda:N (N the GPU's index, e.g. cuda:0). "
            "Fix: correct DEVICE in .env or the environment: auto, cuda, cuda:N or cpu.",
        ),
        (
            "TORCH_DTYPE",
            "int8",
            "error: TORCH_DTYPE='int8' is invalid: must be float16, bfloat16 or float32. "
            "Fix: correct TORCH_DTYPE in .env or the environment: float16, bfloat16 or float32 (CPU forces float32); "
            "default: profile.",
        ),
    ],
)
def test_a_mistaken_setting_in_env_is_one_line_and_exit_78_before_anything_loads(
    tmp_path: Path, variable: str, value: str, line: str
) -> None:
    done = videobot(tmp_path, env_file=f"DISCORD_TOKEN={TOKEN}\nDEVICE=cpu\n{variable}={value}\n")

    assert done.status == EXIT_CONFIG
    assert done.stderr_lines == [line]
    assert not done.imported & HEAVY


def test_every_mistake_is_reported_at_once_one_line_each(tmp_path: Path) -> None:
    done = videobot(tmp_path, env_file="LOG_LEVEL=verbose\nDEVICE=tpu\n")

    assert done.status == EXIT_CONFIG
    assert [line.split("=")[0].split(" ")[:2] for line in done.stderr_lines] == [
        ["error:", "DEVICE"],
        ["error:", "DISCORD_TOKEN"],
        ["error:", "LOG_LEVEL"],
    ]
    assert "Traceback" not in done.stderr


def test_a_hugging_face_setting_in_env_takes_effect_as_in_the_environment(tmp_path: Path) -> None:
    env_file = (
        f"DISCORD_TOKEN={TOKEN}\nDEVICE=cpu\nMODEL_ID=acme/not-cached\nHF_HOME={tmp_path / 'hf'}\nHF_HUB_OFFLINE=1\n"
    )

    done = videobot(tmp_path, env_file=env_file)

    assert done.status == EXIT_CONFIG
    assert done.stderr_lines == [
        f"error: MODEL_ID: Model 'acme/not-cached' is not in the Hugging Face cache at {tmp_path / 'hf' / 'hub'} "
        "and downloads are off (HF_HUB_OFFLINE=1). Fix: run `python -m generation download` with network access "
        "(in Docker: `docker compose run --rm bot python -m generation download`), or mount a cache that holds "
        "the model at HF_HOME."
    ]


def test_help_prints_usage_and_every_setting_without_starting_the_bot(tmp_path: Path) -> None:
    done = videobot(tmp_path, "--help")

    assert done.status == 0
    assert done.stdout.startswith("usage: videobot [-h] [--version]")
    assert "  DISCORD_TOKEN            required: bot token from the Discord developer portal" in done.stdout
    assert "  HEALTH_HOST              127.0.0.1: interface for the health server" in done.stdout
    assert not done.imported & HEAVY


def test_version_prints_the_version_without_starting_the_bot(tmp_path: Path) -> None:
    done = videobot(tmp_path, "--version")

    assert (done.status, done.stdout) == (0, "videobot 0.1.0\n")
    assert not done.imported & HEAVY
