"""The lock (requirements/, written by `python3 requirements/update.py`): one resolution, read by CI as
constraints and by the image hash-checked, so the image runs the versions the tests ran with."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.patience import PATIENCE_S

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"
UPDATE = "python3 requirements/update.py"
# What a bot that sends its jobs to GPU workers runs without (`pip install .`, the bot image).
GPU_STACK = {"torch", "diffusers", "transformers", "accelerate", "numpy", "triton"}
Environment = dict[str, str]


def here() -> Environment:
    """The environment markers of this interpreter (CI's, when CI runs the suite)."""
    return dict(default_environment())


def image() -> Environment:
    """The environment markers of the image: Linux x86_64 and the Dockerfile's Python."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    python = re.search(r"^ARG PYTHON_VERSION=(\d+\.\d+)$", dockerfile, re.MULTILINE)
    assert python is not None
    return here() | {
        "python_version": python[1],
        "python_full_version": f"{python[1]}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
    }


def entries(name: str) -> list[tuple[Requirement, list[str]]]:
    """Each requirement of requirements/NAME with its hashes (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", (REQUIREMENTS / name).read_text())
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    found = []
    for line in filter(None, lines):
        hashes = re.findall(r"--hash=(\S+)", line)
        found.append((Requirement(re.sub(r"--hash=\S+", "", line).strip()), hashes))
    return found


def pins(name: str, environment: Environment) -> dict[str, Version]:
    """Package → locked version, for the requirements of requirements/NAME that apply in `environment`."""
    locked = {}
    for requirement, _ in entries(name):
        if requirement.marker is None or requirement.marker.evaluate(environment):
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", requirement
            locked[canonicalize_name(requirement.name)] = Version(specifier.version)
    return locked


def image_pins() -> dict[str, Version]:
    return pins("torch-cuda.txt", image()) | pins("image.txt", image())


def project() -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return table


def gpu_stack(names: Iterable[str]) -> set[str]:
    return {
        name for name in map(canonicalize_name, names) if name in GPU_STACK or name.startswith(("nvidia-", "cuda-"))
    }


def project_requirements() -> list[Requirement]:
    extras = [item for extra in project()["optional-dependencies"].values() for item in extra]
    requirements = [Requirement(item) for item in [*project()["dependencies"], *extras]]
    return [requirement for requirement in requirements if requirement.name != project()["name"]]


@pytest.mark.parametrize("requirement", project_requirements(), ids=str)
def test_every_requirement_of_the_project_is_locked_at_a_version_it_allows(requirement: Requirement) -> None:
    locked = pins("constraints.txt", here())

    name = canonicalize_name(requirement.name)
    assert name in locked, f"{name} is not locked: run `{UPDATE}`"
    assert locked[name] in requirement.specifier, f"{name}=={locked[name]} is not {requirement}: run `{UPDATE}`"


def test_the_image_is_locked_at_the_versions_ci_tests() -> None:
    ci, in_image = pins("constraints.txt", here()), pins("constraints.txt", image())

    for name, version in (image_pins() | pins("bot-image.txt", image())).items():
        assert (in_image[name], ci.get(name, version)) == (version, version), name


def test_the_image_locks_are_hash_checked_and_the_constraints_not() -> None:
    # pip turns hash checking on for a constraints file with hashes, which an editable install cannot pass.
    assert all(hashes for name in ("image.txt", "torch-cuda.txt", "bot-image.txt") for _, hashes in entries(name))
    assert not any(hashes for _, hashes in entries("constraints.txt"))


def test_the_bot_needs_no_gpu_stack_and_the_gpu_extra_holds_it() -> None:
    core = [Requirement(item).name for item in project()["dependencies"]]
    gpu = [Requirement(item).name for item in project()["optional-dependencies"]["gpu"]]

    assert gpu_stack(core) == set()
    assert gpu_stack(gpu) == GPU_STACK - {"triton"}


def test_the_test_extra_pulls_in_the_gpu_extra_so_the_readmes_commands_install_everything() -> None:
    # dev includes test; the README's test command installs dev, and its run command installs gpu.
    test = [Requirement(item) for item in project()["optional-dependencies"]["test"]]
    dev = [Requirement(item) for item in project()["optional-dependencies"]["dev"]]

    assert any(item.name == project()["name"] and item.extras == {"gpu"} for item in test)
    assert any(item.name == project()["name"] and item.extras == {"test"} for item in dev)


def test_the_bot_image_lock_holds_every_dependency_of_the_bot_and_nothing_of_the_gpu_stack() -> None:
    locked = pins("bot-image.txt", image())

    assert {canonicalize_name(Requirement(item).name) for item in project()["dependencies"]} <= set(locked)
    assert gpu_stack(locked) == set()


def test_torch_is_locked_at_the_version_the_readmes_test_command_installs() -> None:
    (pinned,) = (requirement for requirement, _ in entries("pins.in") if requirement.name == "torch")
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.endswith("python -m pytest"))

    assert f" {pinned} " in command
    assert " -c requirements/constraints.txt " in command
    assert str(pinned.specifier) == f"=={image_pins()['torch']}" == f"=={pins('constraints.txt', here())['torch']}"


def test_this_environment_runs_the_locked_versions() -> None:
    locked = pins("constraints.txt", here())
    installed = {
        canonicalize_name(dist.metadata["Name"]): Version(dist.version) for dist in importlib.metadata.distributions()
    }

    # The test environment's torch is a local CPU build of the locked version (2.13.0+cpu).
    differ = {
        name: (str(installed[name]), str(version))
        for name, version in locked.items()
        if name in installed and Version(installed[name].public) != version
    }
    assert differ == {}, f"installed, locked: {differ}"


def test_the_update_script_prints_its_help_and_writes_nothing(tmp_path: Path) -> None:
    before = {path.name: path.read_bytes() for path in REQUIREMENTS.iterdir()}

    done = subprocess.run(
        [sys.executable, str(REQUIREMENTS / "update.py"), "--help"],
        cwd=tmp_path, capture_output=True, text=True, timeout=PATIENCE_S,
    )  # fmt: skip

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"usage: {UPDATE} [-h] [--upgrade]")
    assert "--upgrade" in done.stdout
    assert {path.name: path.read_bytes() for path in REQUIREMENTS.iterdir()} == before
