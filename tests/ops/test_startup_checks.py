"""Start-up checks: each problem names its setting, says what is wrong and how to fix it, in one line."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from bot.startup.checks import GpuEnvironment, check_startup, inspect_gpu
from bot.startup.problems import StartupCheckFailed, StartupProblem, load_settings_or_explain
from generation.worker import WorkerSettings
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
    assert TOKEN not in problem.line()


def test_a_client_secret_in_place_of_the_token_is_fatal(tmp_path: Path) -> None:
    problem = only(problems(settings(tmp_path, discord_token="k3Jx9vQ2mN8pL5rT7wY1zA4bC6dE0fG2")))

    assert problem.fatal
    assert "three dot-separated parts" in problem.message


def test_no_gpu_with_device_auto_is_a_warning_about_the_cpu_fallback(tmp_path: Path) -> None:
    problem = only(problems(settings(tmp_path), gpu=NO_GPU))

    assert (problem.setting, problem.fatal) == ("DEVICE", False)
    assert problem.message.startswith("DEVICE=auto, but no NVIDIA GPU is visible")
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


def test_a_bot_only_install_without_queue_url_is_fatal_and_names_both_ways_out(tmp_path: Path) -> None:
    no_torch = GpuEnvironment(torch_version=None, nvidia_devices=("nvidia0",), cuda_visible_devices=None)

    problem = only(problems(settings(tmp_path), gpu=no_torch))

    assert (problem.setting, problem.fatal) == ("QUEUE_URL", True)
    assert "torch is not installed" in problem.message
    assert "QUEUE_URL" in problem.fix
    assert "pip install '.[gpu]'" in problem.fix


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
    assert problem.message.startswith("MODEL_ID: Model 'acme/tiny-t2v' is not in the Hugging Face cache")
    assert "python -m generation download" in problem.fix


def test_a_bot_whose_gpu_workers_are_elsewhere_checks_neither_gpu_nor_model(tmp_path: Path) -> None:
    config = settings(tmp_path, device="cuda", model_id="acme/tiny-t2v", queue_url="redis://queue:6379/0")

    assert check_startup(config, gpu=NO_GPU, hf_cache=tmp_path / "hub", hf_offline=True) == []


def test_a_cached_model_in_offline_mode_is_fine(tmp_path: Path) -> None:
    write_cached_model(tmp_path / "hub", "acme/tiny-t2v", PIPELINE_FILES)
    config = settings(tmp_path, model_id="acme/tiny-t2v")

    assert check_startup(config, gpu=GPU, hf_cache=tmp_path / "hub", hf_offline=True) == []


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


def test_each_problem_is_one_line_naming_its_setting_with_the_fix(tmp_path: Path) -> None:
    found = problems(settings(tmp_path, discord_token="", device="cuda", default_steps=60), gpu=NO_GPU)

    assert [problem.setting for problem in found] == ["DISCORD_TOKEN", "DEFAULT_STEPS", "DEVICE"]
    for problem in found:
        assert "\n" not in problem.line()
        assert problem.setting in problem.message
        assert problem.line() == f"{problem.message} Fix: {problem.fix}."


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
    assert problem.fix == "correct HEALTH_PORT in .env or the environment: serve /healthz and /metrics here"
    assert TOKEN not in str(failure.value)


def test_settings_from_a_valid_env_file_load(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nHEALTH_PORT=8080\n")

    assert load_settings_or_explain().health_port == 8080


# One value per setting that start-up must refuse, and the setting the one problem must name. Settings
# missing here take any value: MODEL_VARIANT (a missing variant falls back to the default weights),
# HF_TOKEN (only the Hub can judge it), and HF_HOME (created on first download).
FREE_FORM = {"MODEL_VARIANT", "HF_TOKEN", "HF_HOME"}
MISTAKES = {
    "QUEUE_MAX_JOBS": "0",
    "QUEUE_MAX_PER_USER": "0",
    "JOB_TIMEOUT_S": "0",
    "JOB_MAX_ATTEMPTS": "0",
    "SHUTDOWN_GRACE_S": "-1",
    "DATABASE_PATH": "{tmp}",
    "ETA_WINDOW": "0",
    "VIDEO_RETENTION_H": "-1",
    "QUEUE_URL": "localhost:6379",
    "QUEUE_LEASE_S": "0",
    "QUEUE_VIDEO_TTL_H": "0",
    "QUEUE_ORIGIN": "shard one",
    "MODEL_ID": "{tmp}/no-such-model",
    "MODEL_PROFILE": "sora",
    "MODELS": "fast=sora",
    "VAE_TILING": "sometimes",
    "LAYERWISE_CASTING": "sometimes",
    "IMAGE_MAX_BYTES": "0",
    "IMAGE_MAX_PIXELS": "0",
    "TORCH_DTYPE": "int8",
    "DEVICE": "tpu",
    "OFFLOAD": "gpu",
    "VAE_SLICING": "sometimes",
    "COMPILE_UNET": "sometimes",
    "DEFAULT_STEPS": "0",
    "MAX_BATCH_SIZE": "0",
    "OUTPUT_SCALE": "0.5",
    "OUTPUT_DIR": "{tmp}/.env",
    "HF_HUB_OFFLINE": "sometimes",
    "DISCORD_TOKEN": "Bot {token}",
    "DISCORD_API_URL": "discord.com/api/v10",
    "DISCORD_GATEWAY_URL": "https://gateway.discord.gg",
    "DISCORD_GUILD_IDS": "my server",
    "STATUS_EDIT_INTERVAL_S": "0",
    "STATUS_EDITS_PER_SECOND": "0",
    "POSITION_EDIT_INTERVAL_S": "0",
    "MAX_STEPS": "0",
    "MAX_FRAMES": "258",
    "MAX_GUIDANCE": "31",
    "MAX_FPS": "0",
    "VIDEO_SIZES": "square:256x256,square:320x192",
    "DEFAULT_MODEL": "the fast one",
    "ALLOWED_CHANNEL_IDS": "#general",
    "ALLOWED_ROLE_IDS": "@everyone",
    "ADMIN_ROLE_IDS": "admins",
    "ALLOW_DMS": "sometimes",
    "BLOCKLIST": "re:(",
    "BLOCKLIST_MODE": "refuse",
    "COOLDOWN_S": "-1",
    "DAILY_QUOTA": "-2",
    "QUOTA_RESET_HOUR": "24",
    "LOG_LEVEL": "verbose",
    "LOG_FORMAT": "xml",
    "HEALTH_PORT": "99999",
    "HEALTH_HOST": "my machine",
    "SHARD_COUNT": "0",
    "SHARD_IDS": "0,1",  # without SHARD_COUNT
}


def test_every_setting_but_the_free_form_ones_has_a_mistake_start_up_refuses() -> None:
    assert set(MISTAKES) | FREE_FORM == {name.upper() for name in Settings.model_fields}


@pytest.mark.parametrize(("variable", "value"), MISTAKES.items())
def test_each_setting_refuses_a_mistake_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nDEVICE=cpu\n")
    monkeypatch.setenv(variable, value.format(tmp=tmp_path, token=TOKEN))

    try:
        found = problems(load_settings_or_explain())
    except StartupCheckFailed as failure:
        found = list(failure.problems)

    problem = only(found)
    assert (problem.setting, problem.fatal) == (variable, True)
    assert variable in problem.message
    assert "\n" not in problem.line()
    assert TOKEN not in problem.line()


def test_a_health_port_another_program_holds_is_fatal(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]

        problem = only(problems(settings(tmp_path, health_port=port)))

    assert problem.setting == "HEALTH_PORT"
    assert problem.message == f"HEALTH_PORT={port} is already in use on 127.0.0.1 by another program."


def test_a_database_path_naming_a_folder_is_fatal(tmp_path: Path) -> None:
    problem = only(problems(settings(tmp_path, database_path=tmp_path)))

    assert problem.message == f"DATABASE_PATH={str(tmp_path)!r} is a folder; it must name the SQLite file."
    assert str(tmp_path / "videobot.sqlite3") in problem.fix


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("VIDEO_SIZES", "odd:704x496", "multiples of 32"),
        ("MAX_FRAMES", "8", "leaves no frame count"),
    ],
)
def test_a_limit_the_model_profile_cannot_honour_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, says: str
) -> None:
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nDEVICE=cpu\nMODEL_PROFILE=ltx-video\n")
    monkeypatch.setenv(variable, value)

    with pytest.raises(StartupCheckFailed) as failure:
        load_settings_or_explain()

    problem = only(list(failure.value.problems))
    assert problem.setting == variable
    assert says in problem.message


def test_a_default_above_the_users_maximum_is_fatal(tmp_path: Path) -> None:
    problem = only(problems(settings(tmp_path, default_steps=60, max_steps=50)))

    assert problem.message.startswith("DEFAULT_STEPS=60 is more than MAX_STEPS=50")


def test_a_name_in_env_that_is_no_setting_is_a_warning_naming_the_setting_meant(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"DISCORD_TOKEN={TOKEN}\nDISCORD_GUILD_ID=123\nPRELOAD_MODEL=acme/model\n")

    problem = only(check_startup(settings(tmp_path), gpu=GPU, hf_offline=False, env_file=env_file))

    assert (problem.setting, problem.fatal) == ("DISCORD_GUILD_ID", False)
    assert problem.line() == (
        f"DISCORD_GUILD_ID in {env_file} is not a videobot setting, so it has no effect outside Docker. "
        "Fix: did you mean DISCORD_GUILD_IDS? Rename it."
    )


def test_a_typo_of_a_setting_in_the_environment_is_a_warning_naming_the_setting_meant(tmp_path: Path) -> None:
    environ = {"PATH": "/usr/bin", "HOSTNAME": "gpu-box", "MAX_STPES": "50"}

    problem = only(check_startup(settings(tmp_path), gpu=GPU, hf_offline=False, env_file=None, environ=environ))

    assert (problem.setting, problem.fatal) == ("MAX_STPES", False)
    assert problem.line() == (
        "MAX_STPES is set in the environment, but it is not a videobot setting, so it has no effect. "
        "Fix: did you mean MAX_STEPS? Rename it."
    )


def test_a_model_profile_for_another_pipeline_than_the_cached_models_is_refused_with_the_fix(tmp_path: Path) -> None:
    write_cached_model(tmp_path / "hub", "acme/tiny-t2v", PIPELINE_FILES)
    config = settings(tmp_path, model_id="acme/tiny-t2v", model_profile="ltx-video", hf_home=tmp_path)

    problem = only(problems(config, tmp_path=tmp_path))

    assert (problem.setting, problem.fatal) == ("MODEL_PROFILE", True)
    assert problem.line() == (
        "MODEL_PROFILE=ltx-video does not fit MODEL_ID=acme/tiny-t2v: its model_index.json names a "
        "TextToVideoSDPipeline, and ltx-video is for LTXPipeline. Fix: set MODEL_PROFILE=modelscope-t2v (empty "
        "picks it from the model), or point MODEL_ID at a LTXPipeline model."
    )


def test_a_model_profile_that_fits_the_model_folder_is_accepted(tmp_path: Path) -> None:
    folder = write_cached_model(tmp_path / "hub", "acme/tiny-t2v", PIPELINE_FILES)

    assert problems(settings(tmp_path, model_id=str(folder), model_profile="modelscope-t2v"), tmp_path=tmp_path) == []


def test_the_workers_settings_in_a_shared_environment_are_no_typo_of_the_bots(tmp_path: Path) -> None:
    # Compose hands one .env to the bot and its workers: WORKER_NAME reaches the bot's environment.
    environ = {name.upper(): "x" for name in WorkerSettings.model_fields}

    assert check_startup(settings(tmp_path), gpu=GPU, hf_offline=False, env_file=None, environ=environ) == []
