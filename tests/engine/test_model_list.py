"""`MODELS`: the models one machine serves by name, parsed and checked at start-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from generation.config import EngineSettings
from generation.profiles import PROFILES


def settings(**values: object) -> EngineSettings:
    return EngineSettings(_env_file=None, **values)  # type: ignore[arg-type]


def problems(**values: object) -> list[str]:
    """The problems `values` cause, each an error of its own located at MODELS."""
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    errors = caught.value.errors()
    assert {error["loc"] for error in errors} == {("models",)}
    return [error["msg"].removeprefix("Value error, ") for error in errors]


def test_models_are_served_by_name_in_their_order() -> None:
    served = settings(models="fast=ltx-video, classic=modelscope-t2v").served_models

    assert [(entry.name, entry.model_id, entry.profile.name) for entry in served] == [
        ("fast", "Lightricks/LTX-Video", "ltx-video"),
        ("classic", "damo-vilab/text-to-video-ms-1.7b", "modelscope-t2v"),
    ]


def test_the_first_model_is_the_default_and_fills_in_the_profile_settings() -> None:
    engine = settings(models="fast=ltx-video,classic=modelscope-t2v")

    assert (engine.model_id, engine.profile.name) == ("Lightricks/LTX-Video", "ltx-video")
    assert engine.default_steps == int(PROFILES["ltx-video"].steps.default)


def test_a_folder_gets_the_profile_of_its_pipeline_class(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "LTXPipeline"}))

    (entry,) = settings(models=f"mine={tmp_path}").served_models

    assert (entry.name, entry.model_id, entry.profile.name) == ("mine", str(tmp_path), "ltx-video")


def test_unset_serves_the_one_model_named_after_its_profile() -> None:
    (entry,) = settings(model_profile="wan2.1-t2v-1.3b").served_models

    assert (entry.name, entry.model_id) == ("wan2.1-t2v-1.3b", PROFILES["wan2.1-t2v-1.3b"].model_id)


def test_each_problem_is_an_error_of_its_own_naming_it() -> None:
    lines = problems(models="fast=ltx-video,fast=modelscope-t2v,b@d=ltx-video,q=nope,,w")

    assert lines == [
        "'fast' is named twice: give each model its own name",
        "'b@d' is not a model name: 1-32 letters, digits, '-' or '.', starting with a letter or digit",
        f"q=nope: 'nope' is no shipped profile ({', '.join(PROFILES)}), hub id (owner/name) or existing folder",
        "an empty entry (two commas in a row, or one at an end): remove it",
        "'w' is not NAME=MODEL (e.g. fast=ltx-video)",
    ]


def test_model_id_beside_models_is_refused() -> None:
    assert problems(models="fast=ltx-video", model_id="some/model") == [
        "MODEL_ID set beside MODELS: list that model in MODELS instead"
    ]


def test_each_model_loads_with_its_own_profile_and_the_settings_set() -> None:
    engine = settings(models="fast=ltx-video,classic=modelscope-t2v", torch_dtype="float32")

    classic = engine.for_model(engine.served_models[1])

    assert (classic.model_id, classic.profile.name) == ("damo-vilab/text-to-video-ms-1.7b", "modelscope-t2v")
    assert classic.default_steps == int(PROFILES["modelscope-t2v"].steps.default)
    assert classic.torch_dtype == "float32"
