"""Hugging Face settings from `.env` take effect as if they were set in the environment.

huggingface_hub (and diffusers through it) reads `HF_HOME`, `HF_TOKEN` and `HF_HUB_OFFLINE` from the
process environment, most of them once, when it is first imported; pydantic-settings reads `.env` only
into our own fields. So the entry points build their settings, then call `export_hub_settings` before
anything imports huggingface_hub. Precedence is the settings' own: a variable already in the
environment wins over `.env`, and is left as it is.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

from generation.config import EngineSettings


def export_hub_settings(settings: EngineSettings, environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Set each Hugging Face setting that `settings` holds but `environ` lacks; return the names set."""
    values = {
        "HF_HOME": None if settings.hf_home is None else str(settings.hf_home),
        "HF_TOKEN": None if settings.hf_token is None else settings.hf_token.get_secret_value(),
        "HF_HUB_OFFLINE": "1" if settings.hf_hub_offline else None,
    }
    exported = {name: value for name, value in values.items() if value is not None and name not in environ}
    environ.update(exported)
    return list(exported)
