"""Model profiles: per model family, what a good request looks like and what the pipeline needs.

A profile holds the sizes a model renders well, its frame-count rule (Wan 4k+1, LTX-Video 8k+1), the
step, guidance and fps ranges, the dtype it was trained in, whether DPM-Solver++ may replace its
scheduler, its default negative prompt and how to fit it in memory. Sources for every value are in
`docs/models.md`.

    rules.py     what a profile is: `ModelProfile`, `FrameRule`, sizes, scheduler and memory choices
    catalog.py   the shipped profiles (`PROFILES`, the seed model's `SEED`)
    choice.py    which profile is active, picked without loading the model

Pure data and plain file reads, no torch: the bot process picks the active profile (for its option
ranges) without loading the pipeline, from `MODEL_PROFILE`, else the pipeline class named in the
model's `model_index.json` (a local folder or the Hugging Face cache), else the model id. The engine
checks that the pipeline it loads agrees (`generation.pipeline`).
"""

from generation.profiles.catalog import PROFILES, SEED
from generation.profiles.choice import detect_profile, pipeline_class_name, profile_for_class
from generation.profiles.rules import (
    FramePolicy,
    FrameRule,
    MemoryPlan,
    ModelProfile,
    NamedSize,
    OffloadMode,
    SchedulerChoice,
)

__all__ = [
    "PROFILES",
    "SEED",
    "FramePolicy",
    "FrameRule",
    "MemoryPlan",
    "ModelProfile",
    "NamedSize",
    "OffloadMode",
    "SchedulerChoice",
    "detect_profile",
    "pipeline_class_name",
    "profile_for_class",
]
