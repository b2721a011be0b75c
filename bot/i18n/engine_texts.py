"""The engine's texts a member reads: a failed job's reason (`generation/queue/reasons.py`) and what a
refused picture is and what is accepted (`generation/conditioning.py`), marked for the catalogues.

The engine writes them in English; the bot says one it knows through the catalogue (the English text
is the key), a templated one (a crash count, a size) with the values read back out of it, and anything
else (an encoder's or a model's own message) in English as it came. A test holds these lists to the
engine's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
    marked("this job stopped {crashes} GPU workers, so it will not be run again"),
    marked("the video took longer than the {limit_s} s limit and was stopped"),
    marked(
        "the GPU ran out of memory for {count} × {frames} frames at {width}×{height}; "
        "try fewer frames or a smaller size"
    ),
)
"""Every reason the engine fills in from a template."""


PICTURE_FIXED: Final = frozenset(
    {
        marked("an image of too many pixels"),
        marked("a file that is not a readable image"),
        marked("an image no longer kept"),
        marked("a new image attached to /video"),
    }
)
"""What the engine says of a picture word for word."""

PICTURE_TEMPLATES: Final = (
    marked("a PNG, JPEG or WebP of at most {mib} MiB and {pixels} pixels"),
    marked("a {format} file"),
    marked("{width}×{height} pixels"),
)
"""What the engine says of a picture from a template."""

RANGE_TEMPLATES: Final = (
    marked("between {minimum} and {maximum}"),
    marked("a multiple of {multiple}"),
)
"""What a refused request field allows, from a template."""

#: A value the engine writes into a template: a number (`1.5`, `16,777,216`) or a format's name (`GIF`).
_VALUE: Final = r"-?[\w.,]{1,20}"


def _pattern(template: str) -> re.Pattern[str]:
    """`template` as a pattern whose groups read its values back."""
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>{_VALUE})" for index, part in enumerate(parts)
    )
    return re.compile(pattern)


def _reader(fixed: frozenset[str], templates: tuple[str, ...]) -> Callable[[str], str | Text]:
    patterns = tuple((template, _pattern(template)) for template in templates)

    def read(text: str) -> str | Text:
        if text in fixed:
            return Text(text)
        for template, pattern in patterns:
            found = pattern.fullmatch(text)
            if found is not None:
                return Text(template, **found.groupdict())
        return text

    return read


engine_reason: Final = _reader(FIXED, TEMPLATES)
"""A failed job's reason (read from the queue: untrusted) as a text to say in any language; one the bot
does not know stays as it is, in English."""

picture_text: Final = _reader(PICTURE_FIXED, PICTURE_TEMPLATES)
"""What the engine said of a refused picture, or of what is accepted, as a text to say in any language."""

allowed_range: Final = _reader(frozenset(), RANGE_TEMPLATES)
"""What a refused request field allows, as a text to say in any language."""
