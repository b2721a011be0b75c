"""Echoed prompts ping nobody, cannot break the message's markdown, and always fit their limit."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.discord_io import sanitize
from bot.discord_io.sanitize import ELLIPSIS, display_prompt, plain_text

ZWSP = "\u200b"
ESCAPED = frozenset("\\*_~|`>#-[]:")
MENTION = re.compile(r"@(everyone|here)|<[@#/:&!a-z]|@[!&]?\d", re.IGNORECASE)

FRAGMENTS = [
    "@everyone", "@here", "@Everyone", "<@123456789012345678>", "<@!1>", "<@&1>", "<#1>", "</video:1>",
    "<:emoji:1>", "**", "```", "`", "||", "~~", "__", "\\", "# ", "-# ", "> ", ">>> ", "[x](https://e.com)",
    "a", " ", "\n", "\t", "é", "👍", "\u202e", "\x00", "\x1b", "\ud800", "\u200b", "cat",
]  # fmt: skip
texts = st.one_of(
    st.text(st.characters(exclude_categories=())),
    st.lists(st.sampled_from(FRAGMENTS)).map("".join),
)
limits = st.integers(min_value=1, max_value=120)


def _unescaped_markup(text: str) -> list[str]:
    """Markdown characters not preceded by an escaping backslash, and bare '@' or '<'."""
    found: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in ESCAPED:
            index += 2
            continue
        if char in ESCAPED or (char in "@<" and text[index + 1 : index + 2] != ZWSP):
            found.append(char)
        index += 1
    return found


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace(ZWSP, "")


@given(texts, limits)
def test_output_never_exceeds_the_limit(text: str, limit: int) -> None:
    assert len(display_prompt(text, limit)) <= limit
    assert len(plain_text(text, limit)) <= limit


@given(texts, limits)
def test_output_never_holds_a_working_mention(text: str, limit: int) -> None:
    assert not MENTION.search(display_prompt(text, limit))


@given(texts, limits)
def test_output_never_holds_unescaped_markdown_even_where_it_was_cut(text: str, limit: int) -> None:
    assert _unescaped_markup(display_prompt(text, limit)) == []


@given(texts, limits)
def test_output_never_holds_control_characters_bidi_overrides_or_lone_surrogates(text: str, limit: int) -> None:
    for output in (display_prompt(text, limit), plain_text(text, limit)):
        output.encode("utf-8")
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", output)


@given(texts)
def test_text_that_fits_reads_back_as_typed_with_whitespace_folded(text: str) -> None:
    cleaned = plain_text(text, 10**6)
    assert _unescape(display_prompt(text, 10**6)) == cleaned.replace(ZWSP, "")


@given(texts, limits)
def test_cut_output_is_the_start_of_the_full_output_plus_an_ellipsis(text: str, limit: int) -> None:
    full, cut = display_prompt(text, 10**6), display_prompt(text, limit)
    if cut != full:
        assert cut.endswith(ELLIPSIS)
        assert full.startswith(cut.removesuffix(ELLIPSIS))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@everyone look", f"@{ZWSP}everyone look"),
        ("@here", f"@{ZWSP}here"),
        ("<@123456789012345678>", f"<{ZWSP}@{ZWSP}123456789012345678\\>"),
        ("<@&42>", f"<{ZWSP}@{ZWSP}&42\\>"),
        ("<#42>", f"<{ZWSP}\\#42\\>"),
        ("</video:42>", f"<{ZWSP}/video\\:42\\>"),
    ],
)
def test_mentions_of_every_form_are_broken_with_a_zero_width_space(text: str, expected: str) -> None:
    assert display_prompt(text, 100) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```py\nx```", r"\`\`\`py x\`\`\`"),
        ("`code`", r"\`code\`"),
        ("||spoiler||", r"\|\|spoiler\|\|"),
        ("**bold** _it_ ~~gone~~", r"\*\*bold\*\* \_it\_ \~\~gone\~\~"),
        ("# heading", r"\# heading"),
        ("-# subtext", r"\-\# subtext"),
        ("> quote", r"\> quote"),
        ("[click](https://evil.example)", r"\[click\](https\://evil.example)"),
        ("back\\slash", r"back\\slash"),
    ],
)
def test_markdown_is_escaped_so_it_shows_as_typed(text: str, expected: str) -> None:
    assert display_prompt(text, 100) == expected


def test_whitespace_runs_and_newlines_become_single_spaces() -> None:
    assert display_prompt("a\n\n cat\t on  a\r\nboard ", 100) == "a cat on a board"


def test_control_and_bidi_override_characters_are_dropped() -> None:
    assert display_prompt("a\x00 c\x1bat\u202e tac", 100) == "a cat tac"


def test_long_text_is_cut_at_the_limit_with_an_ellipsis() -> None:
    assert display_prompt("a cat surfing a wave", 10) == "a cat sur…"


def test_a_cut_never_leaves_half_an_escape() -> None:
    assert display_prompt("abcd**", 6) == "abcd…"


def test_a_cut_before_a_space_drops_the_trailing_space() -> None:
    assert display_prompt("abcd efgh", 6) == "abcd…"


def test_emoji_are_kept_whole() -> None:
    assert display_prompt("👍👍👍", 2) == "👍…"


def test_plain_text_is_cleaned_and_cut_but_not_escaped() -> None:
    assert plain_text("**a**\n@here <#1>", 100) == "**a** @here <#1>"


def test_a_limit_below_one_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        display_prompt("a cat", 0)


def test_discord_limits_are_named() -> None:
    assert (
        sanitize.CONTENT,
        sanitize.EMBED_TITLE,
        sanitize.EMBED_DESCRIPTION,
        sanitize.EMBED_FIELD_VALUE,
        sanitize.BUTTON_LABEL,
        sanitize.TEXT_INPUT_VALUE,
    ) == (2000, 256, 4096, 1024, 80, 4000)
