"""The models one machine serves, by public name: `MODELS=NAME=MODEL,NAME=MODEL,…`.

MODEL is a shipped profile name (its hub id is the profile's), a Hugging Face hub id (`owner/name`) or a
local folder; the profile of a hub id or folder is picked as for `MODEL_ID`, from its `model_index.json`
(see `generation.profiles.choice`). The first model is the default: requests that name none run on it.

Pure data and plain file reads, no torch: the bot builds this list at start-up, before anything loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generation.errors import InvalidRequestError
from generation.profiles import PROFILES, ModelProfile, detect_profile
from generation.request import check_model_name


@dataclass(frozen=True)
class ModelEntry:
    """One model a machine serves: the public name members pick it by, what to load, and its profile."""

    name: str
    model_id: str
    """Hugging Face hub id or local folder of the pipeline."""
    profile: ModelProfile
    profile_named: bool = False
    """The profile was named (a profile name in `MODELS`, or `MODEL_PROFILE`), not picked from the model."""


def parse_models(text: str, hf_home: Path | None = None) -> tuple[ModelEntry, ...]:
    """The entries of a `MODELS` value, in its order; `ValueError` with one line per problem otherwise."""
    entries: list[ModelEntry] = []
    problems: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            problems.append("an empty entry (two commas in a row, or one at an end): remove it")
            continue
        name, equals, model = (part.strip() for part in item.partition("="))
        if not equals or not model:
            problems.append(f"{item!r} is not NAME=MODEL (e.g. fast=ltx-video)")
            continue
        try:
            check_model_name(name)
        except InvalidRequestError:
            problems.append(
                f"{name!r} is not a model name: 1-32 letters, digits, '-' or '.', starting with a letter or digit"
            )
            continue
        if any(entry.name == name for entry in entries):
            problems.append(f"{name!r} is named twice: give each model its own name")
            continue
        entry = _entry(name, model, hf_home)
        if entry is None:
            problems.append(
                f"{name}={model}: {model!r} is no shipped profile ({', '.join(PROFILES)}), "
                "hub id (owner/name) or existing folder"
            )
            continue
        entries.append(entry)
    if problems:
        raise ValueError("\n".join(problems))
    return tuple(entries)


def single_model(model_id: str, profile: ModelProfile, *, profile_named: bool) -> tuple[ModelEntry, ...]:
    """The list of a machine serving only `MODEL_ID` (`MODELS` unset): one entry, named after its profile."""
    return (ModelEntry(profile.name, model_id, profile, profile_named),)


def _entry(name: str, model: str, hf_home: Path | None) -> ModelEntry | None:
    """The entry for MODEL, or None when it is neither a profile name, a hub id nor a folder."""
    if model.lower() in PROFILES:
        profile = PROFILES[model.lower()]
        return ModelEntry(name, profile.model_id, profile, profile_named=True)
    if Path(model).expanduser().is_dir() or _hub_id(model):
        return ModelEntry(name, model, detect_profile(model, hf_home))
    return None


def _hub_id(model: str) -> bool:
    owner, slash, repo = model.partition("/")
    return bool(slash) and bool(owner) and bool(repo) and "/" not in repo and " " not in model
