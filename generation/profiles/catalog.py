"""The shipped profiles; `docs/models.md` cites the source of each value."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from generation.profiles.rules import (
    FrameRule,
    MemoryPlan,
    ModelProfile,
    NamedSize,
    OffloadMode,
    SchedulerChoice,
)
from generation.request import Bounds

_WAN_NEGATIVE: Final = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, static, "
    "overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, extra fingers, "
    "poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, fused fingers, still "
    "picture, messy background, three legs, many people in the background, walking backwards"
)
_LTX_NEGATIVE: Final = "worst quality, inconsistent motion, blurry, jittery, distorted"
_WAN_480: Final = (NamedSize("landscape", 832, 480), NamedSize("portrait", 480, 832))
_WAN_720: Final = (NamedSize("landscape", 1280, 720), NamedSize("portrait", 720, 1280), *(
    NamedSize(f"{size.name}-480p", size.width, size.height) for size in _WAN_480
))  # fmt: skip
_WAN_FRAMES: Final = FrameRule(step=4, offset=1, minimum=5, maximum=81, default=81)
_LTX_SIZES: Final = (
    NamedSize("landscape", 704, 480),
    NamedSize("portrait", 480, 704),
    NamedSize("wide", 768, 512),
    NamedSize("tall", 512, 768),
    NamedSize("square", 512, 512),
)
_LTX_FRAMES: Final = FrameRule(step=8, offset=1, minimum=9, maximum=257, default=121)
_COG_SIZES: Final = (NamedSize("landscape", 720, 480),)
# CogVideoX 1.0 was trained on 49 frames (6 s at 8 fps) and is fixed to them in its model card.
_COG_FRAMES: Final = FrameRule(step=8, offset=1, minimum=9, maximum=49, default=49)

SEED: Final = ModelProfile(
    name="modelscope-t2v",
    title="ModelScope text-to-video 1.7B (the seed model)",
    model_id="damo-vilab/text-to-video-ms-1.7b",
    pipeline_classes=("TextToVideoSDPipeline",),
    sizes=(
        NamedSize("square", 256, 256),
        NamedSize("landscape", 320, 192),
        NamedSize("portrait", 192, 320),
        NamedSize("wide", 448, 256),
        NamedSize("tall", 256, 448),
    ),
    frames=FrameRule(step=1, offset=0, minimum=1, maximum=32, default=16),
    steps=Bounds(1, 50, 25),
    guidance=Bounds(0.0, 20.0, 9.0),
    fps=Bounds(1, 24, 8),
    size_multiple=8,
    dtype="float16",
    variant="fp16",
    scheduler=SchedulerChoice.DPM_SOLVER,
    memory=MemoryPlan(offload=OffloadMode.MODEL, vae_slicing=True),
    id_pattern=r"text-to-video-ms|modelscope",
    needs="about 8 GB with model offload; measured times under Performance",
)

_WAN_T2V_SMALL: Final = ModelProfile(
    name="wan2.1-t2v-1.3b",
    title="Wan 2.1 text-to-video 1.3B",
    model_id="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
    pipeline_classes=("WanPipeline",),
    sizes=_WAN_480,
    frames=_WAN_FRAMES,
    steps=Bounds(1, 50, 50),
    guidance=Bounds(0.0, 10.0, 5.0),
    fps=Bounds(1, 30, 16),
    size_multiple=16,
    dtype="bfloat16",
    negative_prompt=_WAN_NEGATIVE,
    memory=MemoryPlan(offload=OffloadMode.MODEL, vae_slicing=True, vae_tiling=False),
    id_pattern=r"1\.3b",
    needs="8.19 GB VRAM (model card); about 4 min for 5 s of 480p on an RTX 4090",
)
# The Wan 2.1 family shares its frame rule, ranges and negative prompt; the 14B models need more memory.
_WAN_T2V_LARGE: Final = replace(
    _WAN_T2V_SMALL,
    name="wan2.1-t2v-14b",
    title="Wan 2.1 text-to-video 14B",
    model_id="Wan-AI/Wan2.1-T2V-14B-Diffusers",
    sizes=_WAN_720,
    memory=MemoryPlan(offload=OffloadMode.GROUP, vae_slicing=True, vae_tiling=True),
    id_pattern=r"14b",
    needs="a 24 GB card with group offload, 40 GB+ whole; many minutes per 720p clip (no source figure)",
)
_WAN_I2V: Final = replace(
    _WAN_T2V_LARGE,
    name="wan2.1-i2v-14b",
    title="Wan 2.1 image-to-video 14B (480p and 720p)",
    model_id="Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
    pipeline_classes=("WanImageToVideoPipeline",),
    # The 480P model by default; the 720P one (same class) takes the larger sizes too.
    sizes=(*_WAN_480, NamedSize("landscape-720p", 1280, 720), NamedSize("portrait-720p", 720, 1280)),
    image_to_video=True,
    id_pattern="",  # the only profile of its class
    needs="a 24 GB card with group offload, 40 GB+ whole; many minutes per clip (no source figure)",
)

_LTX_T2V: Final = ModelProfile(
    name="ltx-video",
    title="LTX-Video (text-to-video)",
    model_id="Lightricks/LTX-Video",
    pipeline_classes=("LTXPipeline",),
    sizes=_LTX_SIZES,
    frames=_LTX_FRAMES,
    steps=Bounds(1, 50, 50),
    guidance=Bounds(0.0, 10.0, 3.0),
    fps=Bounds(1, 30, 24),
    size_multiple=32,
    dtype="bfloat16",
    negative_prompt=_LTX_NEGATIVE,
    memory=MemoryPlan(offload=OffloadMode.MODEL, vae_slicing=True, vae_tiling=False),
    needs="a 16 GB card with model offload; 24 fps at 768×512 faster than it plays on an H100 (model card)",
)
# The same weights driven by the image-to-video pipelines.
_LTX_I2V: Final = replace(
    _LTX_T2V,
    name="ltx-video-i2v",
    title="LTX-Video (image-to-video)",
    pipeline_classes=("LTXImageToVideoPipeline", "LTXConditionPipeline"),
    image_to_video=True,
    loads_weights_of=("LTXPipeline",),
    needs="as LTX-Video; MODEL_ID may stay Lightricks/LTX-Video (same weights)",
)

_COG_T2V_SMALL: Final = ModelProfile(
    name="cogvideox-2b",
    title="CogVideoX 2B",
    model_id="THUDM/CogVideoX-2b",
    pipeline_classes=("CogVideoXPipeline",),
    sizes=_COG_SIZES,
    frames=_COG_FRAMES,
    steps=Bounds(1, 50, 50),
    guidance=Bounds(0.0, 10.0, 6.0),
    fps=Bounds(1, 16, 8),
    size_multiple=16,
    dtype="float16",
    memory=MemoryPlan(offload=OffloadMode.MODEL, vae_slicing=True, vae_tiling=True),
    id_pattern=r"2b",
    needs="12.5 GB with diffusers' memory options (model card); about 90 s per video on an A100 at 50 steps",
)
# The 5B models were trained in bfloat16, the 2B one in float16.
_COG_T2V_LARGE: Final = replace(
    _COG_T2V_SMALL,
    name="cogvideox-5b",
    title="CogVideoX 5B",
    model_id="THUDM/CogVideoX-5b",
    dtype="bfloat16",
    id_pattern=r"5b",
    needs="a 24 GB card with model offload; about 180-200 s per video on an A100 at 50 steps (model card)",
)
_COG_I2V: Final = replace(
    _COG_T2V_LARGE,
    name="cogvideox-5b-i2v",
    title="CogVideoX 5B image-to-video",
    model_id="THUDM/CogVideoX-5b-I2V",
    pipeline_classes=("CogVideoXImageToVideoPipeline",),
    image_to_video=True,
    id_pattern="",  # the only profile of its class
    needs="as CogVideoX 5B",
)

PROFILES: Final = {
    profile.name: profile
    for profile in (
        SEED,
        _WAN_T2V_SMALL,
        _WAN_T2V_LARGE,
        _WAN_I2V,
        _LTX_T2V,
        _LTX_I2V,
        _COG_T2V_SMALL,
        _COG_T2V_LARGE,
        _COG_I2V,
    )
}
