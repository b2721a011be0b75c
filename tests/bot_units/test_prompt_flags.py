"""Flags inside a prompt: what counts as a flag, how values are read, and what is refused."""

from __future__ import annotations

import pytest

from bot.errors import PromptFlagError
from bot.intake.options import AspectRatio, OptionOverrides
from bot.intake.prompt_flags import known_flags, parse_prompt_flags


def test_the_pika_example_sets_every_option_and_leaves_the_prompt() -> None:
    parsed = parse_prompt_flags(
        'Spiderman surfing -neg "blurry, low quality" -seed 42 -fps 12 -gs 9 -steps 30 -frames 24 -ar 16:9'
    )
    assert parsed.prompt == "Spiderman surfing"
    assert parsed.overrides == OptionOverrides(
        negative_prompt="blurry, low quality", seed=42, fps=12, guidance_scale=9.0, steps=30, num_frames=24
    )
    assert parsed.aspect == AspectRatio(16, 9)


def test_a_prompt_without_flags_sets_nothing() -> None:
    parsed = parse_prompt_flags("a cat on a skateboard")
    assert (parsed.prompt, parsed.overrides, parsed.aspect) == (
        "a cat on a skateboard",
        OptionOverrides(),
        None,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a cat -seed 7", OptionOverrides(seed=7)),
        ("a cat --seed 7", OptionOverrides(seed=7)),
        ("a cat --seed=7", OptionOverrides(seed=7)),
        ("a cat -SEED 7", OptionOverrides(seed=7)),
        ("a cat —seed 7", OptionOverrides(seed=7)),
        ("a cat –seed 7", OptionOverrides(seed=7)),
        ("a cat -steps 30", OptionOverrides(steps=30)),
        ("a cat -frames 24", OptionOverrides(num_frames=24)),
        ("a cat -fps 12", OptionOverrides(fps=12)),
        ("a cat -gs 7.5", OptionOverrides(guidance_scale=7.5)),
        ("a cat --guidance 7,5", OptionOverrides(guidance_scale=7.5)),
        ("a cat -gs .5", OptionOverrides(guidance_scale=0.5)),
        ("a cat -neg ugly", OptionOverrides(negative_prompt="ugly")),
        ("a cat --negative ugly", OptionOverrides(negative_prompt="ugly")),
        ("a cat -size 320x192", OptionOverrides(width=320, height=192)),
        ("a cat --size 320×192", OptionOverrides(width=320, height=192)),
        ('a cat -seed "7"', OptionOverrides(seed=7)),
    ],
)
def test_each_flag_and_spelling_sets_its_option(text: str, expected: OptionOverrides) -> None:
    parsed = parse_prompt_flags(text)
    assert parsed.overrides == expected
    assert parsed.prompt == "a cat"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a cat -ar 16:9", AspectRatio(16, 9)),
        ("a cat --aspect 9:16", AspectRatio(9, 16)),
        ("a cat -ar 2.39:1", AspectRatio(2.39, 1)),
        ("a cat -ar 4/3", AspectRatio(4, 3)),
    ],
)
def test_an_aspect_ratio_is_kept_for_the_server_to_resolve(text: str, expected: AspectRatio) -> None:
    parsed = parse_prompt_flags(text)
    assert (parsed.aspect, parsed.overrides.width) == (expected, None)


@pytest.mark.parametrize(
    ("text", "negative"),
    [
        ('a cat -neg "blurry, low quality"', "blurry, low quality"),
        ("a cat -neg 'blurry, low quality'", "blurry, low quality"),
        ("a cat -neg “blurry, low quality”", "blurry, low quality"),
        ("a cat -neg ‘blurry, low quality’", "blurry, low quality"),
        ("a cat -neg „blurry, low quality“", "blurry, low quality"),
        ("a cat -neg «blurry, low quality»", "blurry, low quality"),
        ('a cat -neg "-seed 3 inside quotes"', "-seed 3 inside quotes"),
    ],
)
def test_quoted_values_may_hold_spaces_commas_and_flag_like_text(text: str, negative: str) -> None:
    parsed = parse_prompt_flags(text)
    assert (parsed.prompt, parsed.overrides.negative_prompt) == ("a cat", negative)


def test_an_unquoted_negative_prompt_runs_to_the_next_flag() -> None:
    parsed = parse_prompt_flags("a cat -neg blurry, low quality -seed 3")
    assert (parsed.overrides.negative_prompt, parsed.overrides.seed) == ("blurry, low quality", 3)


def test_an_unquoted_negative_prompt_at_the_end_runs_to_the_end() -> None:
    assert parse_prompt_flags("a cat -neg blurry, low quality").overrides.negative_prompt == "blurry, low quality"


def test_flags_may_stand_anywhere_in_the_prompt() -> None:
    parsed = parse_prompt_flags("-seed 1 a cat -fps 8 on a skateboard")
    assert (parsed.prompt, parsed.overrides) == ("a cat on a skateboard", OptionOverrides(seed=1, fps=8))


@pytest.mark.parametrize(
    "text",
    [
        "spider-man surfing",
        "a cat - on a skateboard",
        "x-wing and -x-wing fighters",
        "it is -5 degrees",
        "a cat -- surfing",
        "a cat -dancing in the rain",
        "a cat -neg-ish mood",
        "a cat-seed 42",
    ],
)
def test_hyphens_in_ordinary_prose_stay_in_the_prompt(text: str) -> None:
    parsed = parse_prompt_flags(text)
    assert (parsed.prompt, parsed.overrides, parsed.aspect) == (text, OptionOverrides(), None)


def test_whitespace_left_where_flags_were_is_collapsed() -> None:
    assert parse_prompt_flags("a cat\n-seed 1\n  surfing  ").prompt == "a cat surfing"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a cat -sed 42", "unknown flag -sed; the flags are -neg/--negative, -seed,"),
        ("a cat --sed", "unknown flag --sed; the flags are"),
        ("a cat --dancing", "unknown flag --dancing"),
        ("a cat -quality 'high'", "unknown flag -quality"),
        ("a cat -res 320x192", "unknown flag -res"),
    ],
)
def test_an_unknown_flag_is_refused_with_the_known_ones(text: str, message: str) -> None:
    with pytest.raises(PromptFlagError, match=f"^{message}"):
        parse_prompt_flags(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a cat -seed 1 -seed 2", "-seed is given twice; give it once"),
        ("a cat -gs 7 --guidance 8", "-gs/--guidance is given twice; give it once"),
        ("a cat -neg ugly -neg blurry", "-neg/--negative is given twice; give it once"),
    ],
)
def test_a_flag_given_twice_is_refused_even_under_another_spelling(text: str, message: str) -> None:
    with pytest.raises(PromptFlagError, match=f"^{message}$"):
        parse_prompt_flags(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a cat -seed abc", "-seed must be a whole number, like 42 (got “abc”)"),
        ("a cat -steps 2.5", "-steps must be a whole number, like 30 (got “2.5”)"),
        ("a cat -frames -3", r"-frames must be a whole number, like 24 (got “\-3”)"),
        ("a cat -fps twelve", "-fps must be a whole number, like 12 (got “twelve”)"),
        ("a cat -gs nan", "-gs must be a number, like 7.5 (got “nan”)"),
        ("a cat --guidance 1e9", "--guidance must be a number, like 7.5 (got “1e9”)"),
        ("a cat -ar wide", "-ar must be a ratio, like 16:9 (got “wide”)"),
        ("a cat -ar 16:0", r"-ar must be a ratio, like 16:9 (got “16\:0”)"),
        ("a cat -size 320", "-size must be a width and height, like 320x192 (got “320”)"),
    ],
)
def test_a_value_of_the_wrong_kind_names_the_flag_and_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(PromptFlagError) as caught:
        parse_prompt_flags(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a cat -seed", "-seed needs a value: a whole number, like 42"),
        ("a cat -gs -steps 3", "-gs needs a value: a number, like 7.5"),
        ("a cat -neg", "-neg needs a value: some text, quoted if it has spaces"),
        ("a cat -neg -seed 1", "-neg needs a value: some text, quoted if it has spaces"),
        ('a cat -neg ""', "-neg needs a value: some text, quoted if it has spaces"),
    ],
)
def test_a_flag_without_a_value_says_what_it_needs(text: str, message: str) -> None:
    with pytest.raises(PromptFlagError) as caught:
        parse_prompt_flags(text)
    assert str(caught.value) == message


def test_an_unclosed_quote_is_refused() -> None:
    with pytest.raises(PromptFlagError) as caught:
        parse_prompt_flags("a cat -neg “blurry, low quality")
    assert str(caught.value) == "the value of -neg opens a quote (“) that is never closed"


def test_aspect_ratio_and_size_together_are_refused() -> None:
    with pytest.raises(PromptFlagError, match="either -ar or -size, not both"):
        parse_prompt_flags("a cat -ar 16:9 -size 320x192")


def test_values_echoed_in_errors_are_escaped_and_mention_nobody() -> None:
    with pytest.raises(PromptFlagError) as caught:
        parse_prompt_flags("a cat -seed @everyone**")
    assert str(caught.value).endswith("(got “@\u200beveryone\\*\\*”)")


def test_the_flag_list_names_each_flag_and_its_long_form() -> None:
    assert known_flags() == "-neg/--negative, -seed, -steps, -frames, -gs/--guidance, -fps, -ar/--aspect, -size"
