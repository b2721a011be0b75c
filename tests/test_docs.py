"""The documentation promises what the code does: every setting documented, CI runs the README's command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
VARIABLES = [name.upper() for name in Settings.model_fields]


@pytest.mark.parametrize("variable", VARIABLES)
def test_every_setting_is_in_env_example(variable: str) -> None:
    assert re.search(rf"^#? ?{variable}=", (ROOT / ".env.example").read_text(), re.MULTILINE)


@pytest.mark.parametrize("variable", VARIABLES)
def test_every_setting_is_in_the_readme_table(variable: str) -> None:
    assert f"| `{variable}` |" in (ROOT / "README.md").read_text()


def test_ci_runs_the_readmes_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.endswith("python -m pytest"))
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_env_example_sets_only_compose_profile_and_token_and_shows_the_true_defaults() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    set_here = [line.split("=")[0] for line in lines if re.match(r"^[A-Z_]+=", line)]
    assert set_here == ["COMPOSE_PROFILES", "DISCORD_TOKEN"]
    shown = dict(line[2:].split("=", 1) for line in lines if re.match(r"^# [A-Z_]+=", line))
    from_example = Settings(_env_file=None, discord_token="x", **{k.lower(): v for k, v in shown.items() if v})  # type: ignore[call-arg]
    defaults = Settings(_env_file=None, discord_token="x")  # type: ignore[call-arg]
    assert from_example.model_dump() == defaults.model_dump()
