"""Model profiles: picked without loading the model, overridden by explicit settings, and every shipped
profile's sizes and frame counts valid for the shape rules of the pipelines it drives."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from pathlib import Path

import pytest

from generation.config import EngineSettings, OffloadMode
from generation.errors import InvalidRequestError
from generation.profiles import PROFILES, SEED, FramePolicy, FrameRule, ModelProfile, detect_profile


@dataclass(frozen=True)
class ShapeRules:
    """What a pipeline family's real modules require of width, height and frame count."""

    spatial: int
    temporal: int
    patch: int
    patch_t: int


def _shape_rules(pipeline_class: str) -> ShapeRules:
    """The rules from the real classes' default configurations (each is its model's), built on the meta device.

    The pipelines compute their compression factors the same way (see `vae_scale_factor_*` in each).
    """
    import torch
    from diffusers import (
        AutoencoderKLCogVideoX,
        AutoencoderKLLTXVideo,
        AutoencoderKLWan,
        CogVideoXTransformer3DModel,
        LTXVideoTransformer3DModel,
        WanTransformer3DModel,
    )

    def default(cls: type, name: str) -> object:
        return inspect.signature(cls.__init__).parameters[name].default

    with torch.device("meta"):
        if pipeline_class.startswith("Wan"):
            wan = AutoencoderKLWan()
            patch = default(WanTransformer3DModel, "patch_size")
            assert isinstance(patch, tuple)
            return ShapeRules(2 ** len(wan.temperal_downsample), 2 ** sum(wan.temperal_downsample), patch[1], patch[0])
        if pipeline_class.startswith("LTX"):
            ltx = AutoencoderKLLTXVideo()
            patch, patch_t = (
                default(LTXVideoTransformer3DModel, "patch_size"),
                default(LTXVideoTransformer3DModel, "patch_size_t"),
            )
            assert isinstance(patch, int)
            assert isinstance(patch_t, int)
            return ShapeRules(ltx.spatial_compression_ratio, ltx.temporal_compression_ratio, patch, patch_t)
        if pipeline_class.startswith("CogVideoX"):
            cog = AutoencoderKLCogVideoX()
            patch = default(CogVideoXTransformer3DModel, "patch_size")
            assert isinstance(patch, int)
            # CogVideoX 1.0 has no temporal patch (patch_size_t None).
            return ShapeRules(
                2 ** (len(cog.config.block_out_channels) - 1), cog.config.temporal_compression_ratio, patch, 1
            )
    # TextToVideoSDPipeline: the seed model's four-block AutoencoderKL (factor 8), a UNet, no time compression.
    return ShapeRules(spatial=8, temporal=1, patch=1, patch_t=1)


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_every_shipped_profile_fits_the_shape_rules_of_its_pipelines(profile: ModelProfile) -> None:
    for pipeline_class in profile.pipeline_classes:
        rules = _shape_rules(pipeline_class)
        side = rules.spatial * rules.patch
        assert profile.size_multiple % side == 0, pipeline_class
        for size in profile.sizes:
            assert size.width % side == 0, (pipeline_class, size)
            assert size.height % side == 0, (pipeline_class, size)
        allowed = [count for count in range(1, profile.frames.maximum + 1) if profile.frames.allows(count)]
        assert allowed, pipeline_class
        for count in allowed:
            latent_frames = (count - 1) // rules.temporal + 1
            assert (count - 1) % rules.temporal == 0 or rules.temporal == 1, (pipeline_class, count)
            assert latent_frames % rules.patch_t == 0, (pipeline_class, count)


# What may differ between a family's image-to-video profile and its text-to-video one: which model and
# pipelines, and the words about them. Whoever switches to the image-to-video sibling keeps the sizes,
# frames, ranges, dtype, memory plan and negative prompt they had.
_SIBLING_FIELDS = {
    "name",
    "title",
    "model_id",
    "pipeline_classes",
    "image_to_video",
    "loads_weights_of",
    "id_pattern",
    "needs",
}


@pytest.mark.parametrize(("image", "text"), [("ltx-video-i2v", "ltx-video"), ("cogvideox-5b-i2v", "cogvideox-5b")])
def test_an_image_to_video_sibling_takes_the_requests_its_text_to_video_model_takes(image: str, text: str) -> None:
    differing = {
        field.name
        for field in dataclasses.fields(ModelProfile)
        if getattr(PROFILES[image], field.name) != getattr(PROFILES[text], field.name)
    }

    assert PROFILES[image].image_to_video
    assert differing <= _SIBLING_FIELDS


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [("tiny_model_dir", "modelscope-t2v"), ("tiny_ltx_dir", "ltx-video"), ("tiny_ltx_i2v_dir", "ltx-video-i2v")],
)
def test_a_local_model_gets_the_profile_of_the_pipeline_class_its_index_names(
    fixture: str, expected: str, request: pytest.FixtureRequest
) -> None:
    folder: Path = request.getfixturevalue(fixture)

    assert detect_profile(str(folder)).name == expected


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "wan2.1-t2v-1.3b"),
        ("Wan-AI/Wan2.1-T2V-14B-Diffusers", "wan2.1-t2v-14b"),
        ("Wan-AI/Wan2.1-I2V-14B-720P-Diffusers", "wan2.1-i2v-14b"),
        ("Lightricks/LTX-Video", "ltx-video"),
        ("THUDM/CogVideoX-2b", "cogvideox-2b"),
        ("THUDM/CogVideoX-5b", "cogvideox-5b"),
        ("THUDM/CogVideoX-5b-I2V", "cogvideox-5b-i2v"),
        ("damo-vilab/text-to-video-ms-1.7b", "modelscope-t2v"),
        ("someone/unknown-model", "modelscope-t2v"),
    ],
)
def test_a_model_not_on_disk_gets_its_profile_from_its_id(model_id: str, expected: str, tmp_path: Path) -> None:
    assert detect_profile(model_id, hf_home=tmp_path).name == expected


def test_a_cached_model_gets_the_profile_of_its_cached_index(tmp_path: Path) -> None:
    snapshot = tmp_path / "hub" / "models--someone--renamed-ltx" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "model_index.json").write_text('{"_class_name": "LTXImageToVideoPipeline"}')
    refs = tmp_path / "hub" / "models--someone--renamed-ltx" / "refs"
    refs.mkdir()
    (refs / "main").write_text("abc123")

    assert detect_profile("someone/renamed-ltx", hf_home=tmp_path).name == "ltx-video-i2v"


def test_naming_a_profile_brings_its_model_and_settings() -> None:
    settings = EngineSettings(_env_file=None, model_profile="ltx-video")  # type: ignore[call-arg]

    assert settings.model_id == "Lightricks/LTX-Video"
    assert (settings.torch_dtype, settings.model_variant, settings.default_steps) == ("bfloat16", None, 50)


def test_settings_that_are_set_win_over_the_profile() -> None:
    settings = EngineSettings(  # type: ignore[call-arg]
        _env_file=None, model_profile="wan2.1-t2v-14b", model_id="/models/wan", torch_dtype="float16",
        offload="model", default_steps=20,
    )  # fmt: skip

    assert (settings.model_id, settings.torch_dtype, settings.offload, settings.default_steps) == (
        "/models/wan", "float16", OffloadMode.MODEL, 20,
    )  # fmt: skip
    assert settings.profile.name == "wan2.1-t2v-14b"


def test_the_default_settings_keep_the_seed_model_as_before() -> None:
    settings = EngineSettings(_env_file=None)  # type: ignore[call-arg]

    assert settings.profile is SEED
    assert (settings.model_id, settings.torch_dtype, settings.model_variant) == (SEED.model_id, "float16", "fp16")
    assert (settings.offload, settings.default_steps) == (OffloadMode.MODEL, 25)


def test_an_unknown_profile_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"must be one of modelscope-t2v, wan2\.1-t2v-1\.3b"):
        EngineSettings(_env_file=None, model_profile="sora")  # type: ignore[call-arg]


LTX_RULE = PROFILES["ltx-video"].frames


@pytest.mark.parametrize(("asked", "made"), [(16, 17), (17, 17), (10, 17), (257, 257), (250, 257), (9, 9)])
def test_a_rounding_rule_makes_the_next_allowed_count_up(asked: int, made: int) -> None:
    assert LTX_RULE.fit(asked) == made


def test_an_operators_cap_keeps_the_rule() -> None:
    capped = LTX_RULE.capped(100)

    assert (capped.maximum, capped.fit(90)) == (97, 97)


def test_a_refusing_rule_names_the_rule() -> None:
    rule = FrameRule(step=4, offset=1, minimum=5, maximum=81, default=81, policy=FramePolicy.REFUSE)

    with pytest.raises(InvalidRequestError) as caught:
        rule.fit(16)

    assert str(caught.value) == "num_frames must be 4k+1 frames from 5 to 81 (5, 9, 13, …) (got 16)"


def test_a_cap_below_the_rules_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="4 leaves no frame count"):
        LTX_RULE.capped(4)
