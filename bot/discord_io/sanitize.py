"""User text made safe to echo back in Discord messages, and Discord's length limits.

`display_prompt` is for places Discord renders markdown (message content, embed titles, descriptions
and fields). It pings nobody even if a message were sent with permissive `allowed_mentions`: a zero-width
space follows every `@` and `<`, which breaks `@everyone`, `@here` and every `<@…>`, `<@&…>`, `<#…>`,
`</…>` form, on the server as well as in the client. Markdown characters are backslash-escaped one by
one, as `discord.utils.escape_markdown` does, links included: an echoed prompt unfurls nothing.

`plain_text` is for places shown verbatim (button labels, a modal's pre-filled value), where an escape
would show up as a stray backslash.

Both fold every run of whitespace into one space (the engine does the same to the prompt it runs),
drop control, bidirectional-override and lone-surrogate characters, and cut to a limit with an ellipsis
between whole characters and escapes. Limits count code points, as Python's `len` does.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Final

CONTENT: Final = 2000
EMBED_TITLE: Final = 256
EMBED_DESCRIPTION: Final = 4096
EMBED_FIELD_VALUE: Final = 1024
BUTTON_LABEL: Final = 80
TEXT_INPUT_VALUE: Final = 4000

ELLIPSIS: Final = "…"
_ZERO_WIDTH_SPACE: Final = "\u200b"
_MARKDOWN: Final = frozenset("\\*_~|`>#-[]:")
# Bidi overrides and isolates can make the echo read differently from what was typed.
_BIDI_CONTROLS: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def display_prompt(text: str, limit: int) -> str:
    """`text` escaped for a markdown context, at most `limit` characters long."""
    return _fit([_escape(char) for char in _clean(text)], limit)


def plain_text(text: str, limit: int) -> str:
    """`text` cleaned for a verbatim context (no escaping), at most `limit` characters long."""
    return _fit(list(_clean(text)), limit)


def _clean(text: str) -> str:
    flat = " ".join(text.split())
    return "".join(
        char for char in flat if unicodedata.category(char) not in ("Cc", "Cs") and char not in _BIDI_CONTROLS
    )


def _escape(char: str) -> str:
    if char in ("@", "<"):
        return char + _ZERO_WIDTH_SPACE
    if char in _MARKDOWN:
        return "\\" + char
    return char


def _fit(pieces: Sequence[str], limit: int) -> str:
    """Join `pieces`, cutting only between them, so no escape is ever split from what it escapes."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    kept: list[str] = []
    room = limit - len(ELLIPSIS)
    for piece in pieces:
        if len(piece) > room:
            break
        kept.append(piece)
        room -= len(piece)
    return "".join(kept).rstrip() + ELLIPSIS
