"""Which profile is active: named, or picked from the model without loading it."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Final

from generation.profiles.catalog import PROFILES, SEED
from generation.profiles.rules import ModelProfile

log = logging.getLogger(__name__)

_ID_PATTERNS: Final = (
    (r"wan2\.\d-i2v", "wan2.1-i2v-14b"),
    (r"wan2\.\d-t2v-1\.3b", "wan2.1-t2v-1.3b"),
    (r"wan2\.\d-t2v-14b", "wan2.1-t2v-14b"),
    (r"cogvideox-5b-i2v", "cogvideox-5b-i2v"),
    (r"cogvideox-5b", "cogvideox-5b"),
    (r"cogvideox-2b", "cogvideox-2b"),
    (r"ltx-video", "ltx-video"),
)


def profile_for_class(class_name: str, model_id: str) -> ModelProfile | None:
    """The profile for pipelines of `class_name`, told apart by `model_id` when several share it."""
    candidates = [profile for profile in PROFILES.values() if profile.loads(class_name)]
    for profile in candidates:
        if profile.id_pattern and re.search(profile.id_pattern, model_id, re.IGNORECASE):
            return profile
    return candidates[0] if candidates else None


def detect_profile(model_id: str, hf_home: Path | None = None) -> ModelProfile:
    """The profile for `model_id` without loading it (see the module docstring); the seed's when unknown."""
    class_name = pipeline_class_name(model_id, hf_home)
    if class_name is not None:
        found = profile_for_class(class_name, model_id)
        if found is not None:
            return found
        log.warning("no profile for pipeline class %s of %s: using the seed model's limits", class_name, model_id)
        return SEED
    for pattern, name in _ID_PATTERNS:
        if re.search(pattern, model_id, re.IGNORECASE):
            return PROFILES[name]
    return SEED


def pipeline_class_name(model_id: str, hf_home: Path | None = None) -> str | None:
    """`_class_name` of the model's `model_index.json`, from a local folder or the hub cache under
    `hf_home` (default: `HF_HOME`, else ~/.cache/huggingface); None when it cannot be read."""
    folder = Path(model_id).expanduser()
    index: Path | None = folder / "model_index.json" if folder.is_dir() else _cached_index(model_id, hf_home)
    if index is None or not index.is_file():
        return None
    try:
        name = json.loads(index.read_text(encoding="utf-8")).get("_class_name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def _cached_index(model_id: str, hf_home: Path | None) -> Path | None:
    """`model_index.json` of `model_id` in the hub cache, found by path (the cache's documented layout).

    Plain file reads, no huggingface_hub: it reads HF_* variables once, when imported, and the bot
    exports those from `.env` only after its settings (and so this) are built.
    """
    if model_id.count("/") != 1:
        return None
    home = hf_home or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")).expanduser()
    hub = Path(os.environ["HF_HUB_CACHE"]) if hf_home is None and "HF_HUB_CACHE" in os.environ else home / "hub"
    repo = hub / f"models--{model_id.replace('/', '--')}"
    try:
        revision = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return repo / "snapshots" / revision / "model_index.json"
