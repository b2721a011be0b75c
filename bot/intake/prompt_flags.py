"""Pika-style flags written inside a prompt: `a cat surfing -neg "blurry" -seed 42 -ar 16:9`.

What counts as a flag (everything else stays in the prompt):

- a token that starts the text or follows whitespace, made of one or two hyphens (or the en/em dash a
  phone keyboard turns "--" into) and a name of ASCII letters, ending at whitespace, `=` or the end;
  so `spider-man`, `-`, `-5`, `x-wing` and `-x-wing` are prompt text;
- whose name is known (case-insensitive, one or two hyphens alike), or which is unknown but clearly
  meant as a flag: written with two hyphens, or with one and followed by a value such as `42`, `16:9`,
  `320x192` or a quoted string. Those are refused with the list of known flags, so a typo like `-sed 42`
  is never sent to the model as prompt text, while `a cat -dancing in the rain` is left alone.

A value follows after whitespace or `=`. It may be quoted with straight or curly quotes; unquoted, a
`-neg` value runs to the next flag or the end (so put it last or quote it), and any other value is one
word. Each flag may be given once; `-ar` and `-size` both set the size, so only one of them may be used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from bot.discord_io.sanitize import display_prompt
from bot.errors import PromptFlagError
from bot.i18n import Text
from bot.intake.options import AspectRatio, OptionOverrides, ParsedPrompt

__all__ = ["ParsedPrompt", "known_flags", "parse_prompt_flags"]

_CANDIDATE: Final = re.compile(r"(?<!\S)(?P<dashes>--?|[\u2013\u2014])(?P<name>[A-Za-z]+)(?=\s|=|$)")
_VALUE_LIKE: Final = re.compile(r"""[\s=]*(?:\d[\d.,]*(?:\s*[:/x×X*]\s*\d[\d.]*)?(?=\s|$)|["'“‘„«])""")
_OPENING_QUOTES: Final = {'"': '"”', "'": "'’", "“": '”"', "‘": "’'", "„": '“”"', "«": "»"}
_INT: Final = re.compile(r"\d{1,20}")
_FLOAT: Final = re.compile(r"\d{1,6}(?:[.,]\d{0,6})?|[.,]\d{1,6}")
_RATIO: Final = re.compile(r"(\d{1,4}(?:\.\d{1,4})?)\s*[:/]\s*(\d{1,4}(?:\.\d{1,4})?)")
_SIZE: Final = re.compile(r"(\d{1,5})\s*[x×X*]\s*(\d{1,5})")
_SHOWN_VALUE_CHARS: Final = 40


@dataclass(frozen=True)
class _Flag:
    names: tuple[str, ...]
    key: str
    allowed: Text
    parse: Callable[[str], Any]  # returns None when the raw value is not of its kind
    is_text: bool = False

    @property
    def spelling(self) -> str:
        return "/".join(("--" if i else "-") + name for i, name in enumerate(self.names))


def _whole(raw: str) -> int | None:
    return int(raw) if _INT.fullmatch(raw) else None


def _number(raw: str) -> float | None:
    return float(raw.replace(",", ".")) if _FLOAT.fullmatch(raw) else None


def _ratio(raw: str) -> AspectRatio | None:
    found = _RATIO.fullmatch(raw)
    if not found or not float(found[1]) or not float(found[2]):
        return None
    return AspectRatio(float(found[1]), float(found[2]))


def _size(raw: str) -> tuple[int, int] | None:
    found = _SIZE.fullmatch(raw)
    return (int(found[1]), int(found[2])) if found else None


_FLAGS: Final = (
    _Flag(("neg", "negative"), "negative_prompt", Text("some text, quoted if it has spaces"), str, is_text=True),
    _Flag(("seed",), "seed", Text("a whole number, like 42"), _whole),
    _Flag(("steps",), "steps", Text("a whole number, like 30"), _whole),
    _Flag(("frames",), "num_frames", Text("a whole number, like 24"), _whole),
    _Flag(("gs", "guidance"), "guidance_scale", Text("a number, like 7.5"), _number),
    _Flag(("fps",), "fps", Text("a whole number, like 12"), _whole),
    _Flag(("ar", "aspect"), "aspect", Text("a ratio, like 16:9"), _ratio),
    _Flag(("size",), "size", Text("a width and height, like 320x192"), _size),
)
_BY_NAME: Final = {name: flag for flag in _FLAGS for name in flag.names}


def known_flags() -> str:
    """The flags a user may write, as listed in help and error messages."""
    return ", ".join(flag.spelling for flag in _FLAGS)


def parse_prompt_flags(text: str) -> ParsedPrompt:
    """Split `text` into the prompt for the model and the options its flags set.

    Raises `PromptFlagError` for an unknown flag, a repeated one, a missing or mistyped value, an
    unclosed quote, or `-ar` together with `-size`.
    """
    kept: list[str] = []
    values: dict[str, Any] = {}
    position = 0
    while (hit := _next_flag(text, position)) is not None:
        match, flag = hit
        kept.append(text[position : match.start()])
        written = match[0]
        if flag is None:
            raise PromptFlagError(Text("unknown flag {flag}; the flags are {flags}", flag=written, flags=known_flags()))
        raw, position = _read_value(text, match.end(), flag, written)
        if flag.key in values:
            raise PromptFlagError(Text("{flag} is given twice; give it once", flag=flag.spelling))
        if not raw:
            raise PromptFlagError(Text("{flag} needs a value: {allowed}", flag=written, allowed=flag.allowed))
        value = flag.parse(raw)
        if value is None:
            raise PromptFlagError(
                Text("{flag} must be {allowed} (got {value})", flag=written, allowed=flag.allowed, value=_quote(raw))
            )
        values[flag.key] = value
    kept.append(text[position:])

    if "aspect" in values and "size" in values:
        raise PromptFlagError(Text("give either -ar or -size, not both: they both set the size"))
    aspect = values.pop("aspect", None)
    if "size" in values:
        values["width"], values["height"] = values.pop("size")
    return ParsedPrompt(" ".join(" ".join(kept).split()), OptionOverrides(**values), aspect)


def _next_flag(text: str, start: int) -> tuple[re.Match[str], _Flag | None] | None:
    """The next token from `start` that is a flag: known, or unknown but clearly meant as one."""
    for match in _CANDIDATE.finditer(text, start):
        flag = _BY_NAME.get(match["name"].lower())
        if flag is not None or match["dashes"] != "-" or _VALUE_LIKE.match(text, match.end()):
            return match, flag
    return None


def _read_value(text: str, start: int, flag: _Flag, written: str) -> tuple[str, int]:
    """The raw value after a flag name and where it ends; an empty value when there is none."""
    if text.startswith("=", start):
        start += 1
    else:
        while start < len(text) and text[start].isspace():
            start += 1
    if start < len(text) and text[start] in _OPENING_QUOTES:
        closers = _OPENING_QUOTES[text[start]]
        end = next((i for i in range(start + 1, len(text)) if text[i] in closers), None)
        if end is None:
            raise PromptFlagError(
                Text(
                    "the value of {flag} opens a quote ({quote}) that is never closed", flag=written, quote=text[start]
                )
            )
        return text[start + 1 : end].strip(), end + 1
    following = _next_flag(text, start)
    if flag.is_text:
        end = following[0].start() if following else len(text)
        return text[start:end].strip(), end
    if following and following[0].start() == start:
        return "", start
    end = start
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end], end


def _quote(raw: str) -> str:
    return f"“{display_prompt(raw, _SHOWN_VALUE_CHARS)}”"
