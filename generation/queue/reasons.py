"""Why a job failed, as its user reads it: every reason the queue and its workers give, in English.

The engine knows no languages; a front end that speaks others keys its translations on these texts
(the bot lists them in `bot/i18n/engine_texts.py`, and a test holds that list to `FIXED_REASONS` and
`REASON_TEMPLATES`). An `EngineError`'s own message (an encoder's or a model's) may reach a user too,
said as it is.
"""

from __future__ import annotations

from typing import Final

DAMAGED_JOB: Final = "the queue's record of this job was damaged, so its result cannot be trusted; please ask again"
"""A job whose record failed validation."""

LOST_VIDEO: Final = "the finished video was lost before it could be sent"
LOST_IN_REDIS: Final = (
    "the queue's storage (Redis) restarted without its data and lost this job before it was done; "
    "nothing was made, so press Re-roll or ask again"
)
PICTURE_GONE: Final = "the picture to animate is no longer stored (it waited too long); please ask again"
VIDEO_GONE: Final = "the video to extend is no longer stored (it waited too long); please ask again"
VIDEO_NOT_STORED: Final = (
    "the video was made, but the queue could not store it (full or not answering); please ask again in a few minutes"
)
NOT_SAVED: Final = "the job could not be saved"
NOT_ENCODED: Final = "the video was not encoded"
NOT_ENCODABLE: Final = "the video could not be encoded"
OUT_OF_MEMORY: Final = "the GPU ran out of memory making this video; try fewer frames or a smaller size"
BUG: Final = "something went wrong on our side while making this video; it has been logged"
UNKNOWN: Final = "it failed"
"""A failed job whose record kept no reason."""

CRASHED: Final = "this prompt crashed the worker {crashes} times, so it will not be run again"
"""A template: `{crashes}` is a count."""
TIMED_OUT: Final = "the video took longer than the {limit_s} s limit and was stopped"
"""A template: `{limit_s}` is the watchdog's limit in seconds."""
STOPPED_WORKERS: Final = "this job stopped {crashes} GPU workers, so it will not be run again"
"""A template, filled in by Redis's `lua/reclaim.lua` (kept to it by a test): `{crashes}` is a count."""
OUT_OF_MEMORY_FOR: Final = (
    "the GPU ran out of memory for {count} × {frames} frames at {width}×{height}; try fewer frames or a smaller size"
)
"""A template: how many videos the failed call made at once, and their frames and size."""

FIXED_REASONS: Final = (
    DAMAGED_JOB,
    LOST_VIDEO,
    LOST_IN_REDIS,
    PICTURE_GONE,
    VIDEO_GONE,
    VIDEO_NOT_STORED,
    NOT_SAVED,
    NOT_ENCODED,
    NOT_ENCODABLE,
    OUT_OF_MEMORY,
    BUG,
    UNKNOWN,
)
REASON_TEMPLATES: Final = (CRASHED, STOPPED_WORKERS, TIMED_OUT, OUT_OF_MEMORY_FOR)
