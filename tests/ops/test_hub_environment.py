"""Hugging Face settings written in `.env` reach huggingface_hub as if set in the environment, which wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from generation.config import EngineSettings
from generation.hub_environment import export_hub_settings


@pytest.fixture(autouse=True)
def no_hub_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("HF_HOME", "HF_TOKEN", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


def test_settings_from_env_file_are_exported(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"HF_HOME={tmp_path / 'hf'}\nHF_TOKEN=hf_abc\nHF_HUB_OFFLINE=1\n")
    environ: dict[str, str] = {}

    exported = export_hub_settings(EngineSettings(), environ)

    assert exported == ["HF_HOME", "HF_TOKEN", "HF_HUB_OFFLINE"]
    assert environ == {"HF_HOME": str(tmp_path / "hf"), "HF_TOKEN": "hf_abc", "HF_HUB_OFFLINE": "1"}


def test_the_environment_wins_over_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("HF_HUB_OFFLINE=1\nHF_TOKEN=hf_from_file\n")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_TOKEN", "hf_from_environment")
    environ = {"HF_HUB_OFFLINE": "0", "HF_TOKEN": "hf_from_environment"}

    settings = EngineSettings()
    exported = export_hub_settings(settings, environ)

    assert settings.hf_hub_offline is False
    assert exported == []
    assert environ == {"HF_HUB_OFFLINE": "0", "HF_TOKEN": "hf_from_environment"}


def test_settings_left_empty_are_not_exported(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("HF_HOME=\nHF_TOKEN=\n")
    environ: dict[str, str] = {}

    assert export_hub_settings(EngineSettings(), environ) == []
    assert environ == {}
