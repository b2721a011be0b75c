"""Start-up checks: each problem names its setting, says what is wrong and how to fix it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from bot.startup_checks import (
    GpuEnvironment,
    StartupCheckFailed,
    StartupProblem,
    check_startup,
    format_problems,
    inspect_gpu,
    load_settings_or_explain,
)
from tests.ops.fake_hf_cache import PIPELINE_FILES, write_cached_model

TOKEN = ".".join(["MTA4NzY1NDMyMTA5ODc2NTQzMg", "GaBcDe", "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"])
GPU = GpuEnvironment(torch_version="2.15.0", nvidia_devices=("nvidia0",), cuda_visible_devices=None)
NO_GPU = GpuEnvironment(torch_version="2.15.0", nvidia_devices=(), cuda_visible_devices=None)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No .env and no setting from the machine running the tests."""
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": TOKEN,
        "database_path": tmp_path / "state" / "videobot.sqlite3",
        "output_dir": tmp_path / "outputs",
    }
    return Settings(_env_file=None, **(values | overrides))


def problems(config: Settings, gpu: GpuEnvironment = GPU, tmp_path: Path | None = None) -> list[StartupProblem]:
    return check_startup(config, gpu=gpu, hf_cache=tmp_path, hf_offline=False)


def only(found: list[StartupProblem]) -> StartupProblem:
    assert len(found) == 1, found
    return found[0]


def test_a_well_configured_bot_has_no_problems(tmp_path: Path) -> None:
    assert problems(settings(tmp_path)) == []


def test_an_empty_token_is_fatal_and_says_where_to_get_one(tmp_path: Path) -> None:
    problem = only(problems(settings(tmp_path, discord_token="  ")))

    assert (problem.setting, problem.fatal) == ("DISCORD_TOKEN", True)
    assert problem.message == "DISCORD_TOKEN is empty."
    assert "https://discord.com/developers/applications" in problem.fix


def test_a_token_with_the_bot_prefix_is_fatal_and_not_echoed(tmp_path: Path) -> None:
    problem = only(problems(settings(tmp_path, discord_token=f"Bot {TOKEN}")))

    assert (problem.setting, problem.fatal) == ("DISCORD_TOKEN", True)
    assert "starts with 'Bot '" in problem.message
    assert TOKEN not in format_problems([problem])


def test_a_client_secret_in_place_of_the_token_is_fatal(tmp_path: Path) -> None:
    problem = only(problems(settings(tmp_path, discord_token="k3Jx9vQ2mN8pL5rT7wY1zA4bC6dE0fG2")))

    assert problem.fatal
    assert "three dot-separated parts" in problem.message


def test_no_gpu_with_device_auto_is_a_warning_about_the_cpu_fallback(tmp_path: Path) -> None:
    problem = only(problems(settings(tmp_path), gpu=NO_GPU))

    assert (problem.setting, problem.fatal) == ("DEVICE", False)
    assert "falls back to the CPU" in problem.message
    assert "NVIDIA Container Toolkit" in problem.fix
    assert "DEVICE=cpu" in problem.fix


def test_no_gpu_with_device_cuda_is_fatal(tmp_path: Path) -> None:
    problem = only(problems(settings(tmp_path, device="cuda"), gpu=NO_GPU))

    assert (problem.setting, problem.fatal) == ("DEVICE", True)


def test_cuda_visible_devices_hiding_every_gpu_is_named(tmp_path: Path) -> None:
    hidden = GpuEnvironment(torch_version="2.15.0", nvidia_devices=("nvidia0",), cuda_visible_devices="")

    problem = only(problems(settings(tmp_path), gpu=hidden))

    assert "CUDA_VISIBLE_DEVICES hides every GPU" in problem.message


def test_a_cpu_only_torch_build_is_a_warning(tmp_path: Path) -> None:
    cpu_torch = GpuEnvironment(torch_version="2.13.0+cpu", nvidia_devices=("nvidia0",), cuda_visible_devices=None)

    problem = only(problems(settings(tmp_path), gpu=cpu_torch))

    assert (problem.setting, problem.fatal) == ("DEVICE", False)
    assert "torch 2.13.0+cpu is a CPU-only build" in problem.message


def test_missing_torch_is_a_warning_when_the_device_is_auto(tmp_path: Path) -> None:
    no_torch = GpuEnvironment(torch_version=None, nvidia_devices=("nvidia0",), cuda_visible_devices=None)

    problem = only(problems(settings(tmp_path), gpu=no_torch))

    assert not problem.fatal
    assert "torch is not installed" in problem.message


def test_device_cpu_needs_no_gpu(tmp_path: Path) -> None:
    assert problems(settings(tmp_path, device="cpu"), gpu=NO_GPU) == []


def test_gpu_inspection_counts_only_the_numbered_nvidia_device_nodes(tmp_path: Path) -> None:
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        (tmp_path / name).touch()

    assert inspect_gpu(tmp_path).nvidia_devices == ("nvidia0", "nvidia1")


def test_a_model_missing_from_the_cache_in_offline_mode_is_fatal(tmp_path: Path) -> None:
    config = settings(tmp_path, model_id="acme/tiny-t2v")

    problem = only(check_startup(config, gpu=GPU, hf_cache=tmp_path / "hub", hf_offline=True))

    assert (problem.setting, problem.fatal) == ("MODEL_ID", True)
    assert "'acme/tiny-t2v' is not in the Hugging Face cache" in problem.message
    assert "python -m generation download" in problem.fix


def test_a_cached_model_in_offline_mode_is_fine(tmp_path: Path) -> None:
    write_cached_model(tmp_path / "hub", "acme/tiny-t2v", PIPELINE_FILES)
    config = settings(tmp_path, model_id="acme/tiny-t2v")

    assert check_startup(config, gpu=GPU, hf_cache=tmp_path / "hub", hf_offline=True) == []


def test_an_unknown_log_level_is_fatal(tmp_path: Path) -> None:
    problem = only(problems(settings(tmp_path, log_level="verbose")))

    assert (problem.setting, problem.fatal) == ("LOG_LEVEL", True)
    assert "DEBUG, INFO, WARNING or ERROR" in problem.fix


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_output_dir_this_user_cannot_write_is_fatal(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)

    problem = only(problems(settings(tmp_path, output_dir=locked / "outputs")))

    assert (problem.setting, problem.fatal) == ("OUTPUT_DIR", True)
    assert "chown" in problem.fix


def test_fatal_problems_come_first(tmp_path: Path) -> None:
    found = problems(settings(tmp_path, discord_token=""), gpu=NO_GPU)

    assert [problem.fatal for problem in found] == [True, False]


def test_the_report_lists_each_setting_message_and_fix(tmp_path: Path) -> None:
    report = format_problems(problems(settings(tmp_path, discord_token=""), gpu=NO_GPU))

    assert report.splitlines()[0] == "Start-up checks found 2 problem(s), 1 fatal:"
    assert "  [fatal] DISCORD_TOKEN: DISCORD_TOKEN is empty." in report
    assert "  [warning] DEVICE: No NVIDIA GPU is visible" in report
    assert report.count("      fix: ") == 2


def test_a_missing_token_is_explained_instead_of_a_validation_traceback() -> None:
    with pytest.raises(StartupCheckFailed) as failure:
        load_settings_or_explain(env_file=None)

    problem = only(list(failure.value.problems))
    assert (problem.setting, problem.message) == ("DISCORD_TOKEN", "DISCORD_TOKEN is not set.")
    assert "Reset Token" in problem.fix


def test_an_invalid_setting_names_the_variable_the_value_and_what_it_is_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("HEALTH_PORT", "99999")

    with pytest.raises(StartupCheckFailed) as failure:
        load_settings_or_explain(env_file=None)

    problem = only(list(failure.value.problems))
    assert problem.setting == "HEALTH_PORT"
    assert problem.message.startswith("HEALTH_PORT='99999' is invalid: Input should be less than or equal to 65535")
    assert "serve /healthz and /metrics here" in problem.fix
    assert TOKEN not in str(failure.value)


def test_settings_from_a_valid_env_file_load(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nHEALTH_PORT=8080\n")

    assert load_settings_or_explain().health_port == 8080
