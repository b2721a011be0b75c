"""The engine's failure reasons (`generation/queue/reasons.py`), marked for the catalogues and said in a
member's language.

The engine writes a failed job's reason in English; the bot says one it knows through the catalogue
(the English text is the key), a templated one (a crash count, a time limit) with the values read back
out of it, and anything else (an encoder's or a model's own message) in English as it came.
A test holds these lists to the engine's.
"""

from __future__ import annotations

import re
from typing import Final

from bot.i18n.speaker import Text, marked

FIXED: Final = frozenset(
    {
        marked("the queue's record of this job was damaged, so its result cannot be trusted; please ask again"),
        marked("the finished video was lost before it could be sent"),
        marked(
            "the queue's storage (Redis) restarted without its data and lost this job before it was done; "
            "nothing was made, so press Re-roll or ask again"
        ),
        marked("the picture to animate is no longer stored (it waited too long); please ask again"),
        marked("the video to extend is no longer stored (it waited too long); please ask again"),
        marked(
            "the video was made, but the queue could not store it (full or not answering); "
            "please ask again in a few minutes"
        ),
        marked("the job could not be saved"),
        marked("the video was not encoded"),
        marked("the video could not be encoded"),
        marked("the GPU ran out of memory making this video; try fewer frames or a smaller size"),
        marked("something went wrong on our side while making this video; it has been logged"),
        marked("it failed"),
    }
)
"""Every reason the engine gives word for word."""

TEMPLATES: Final = (
    marked("this prompt crashed the worker {crashes} times, so it will not be run again"),
    marked("the video took longer than the {limit_s} s limit and was stopped"),
    marked(
        "the GPU ran out of memory for {count} × {frames} frames at {width}×{height}; "
        "try fewer frames or a smaller size"
    ),
)
"""Every reason the engine fills in from a template."""


def _pattern(template: str) -> re.Pattern[str]:
    """`template` as a pattern whose groups read its values back (each a number, as the engine writes them)."""
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[0-9]{{1,12}}(?:\\.[0-9]{{1,6}})?)"
        for index, part in enumerate(parts)
    )
    return re.compile(pattern)


_PATTERNS: Final = tuple((template, _pattern(template)) for template in TEMPLATES)


def engine_reason(reason: str) -> str | Text:
    """A failed job's `reason` (read from the queue: untrusted) as a text to say in any language; one the
    bot does not know stays as it is, in English."""
    if reason in FIXED:
        return Text(reason)
    for template, pattern in _PATTERNS:
        found = pattern.fullmatch(reason)
        if found is not None:
            return Text(template, **found.groupdict())
    return reason
