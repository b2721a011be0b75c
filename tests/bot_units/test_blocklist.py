"""Blocklist entries: whole words after folding tricks away, regexes as written, both prompt fields."""

from __future__ import annotations

import pytest

from bot.moderation.rules import Blocklist, BlockMatch

BLOCKLIST = Blocklist.from_entries(["sex", "cock", "blood bath", "re:nud(e|ity)", "  ", "Ünter"])


@pytest.mark.parametrize(
    ("prompt", "entry"),
    [
        ("sex on the beach", "sex"),
        ("SEX", "sex"),
        ("a s3x scene", "sex"),
        ("$ex", "sex"),
        ("s.e.x", "sex"),
        ("s-e-x", "sex"),
        ("s e x", "sex"),
        ("a s e x scene", "sex"),
        ("a s.3.x scene", "sex"),
        ("ｓｅｘ in fullwidth", "sex"),
        ("séx with an accent", "sex"),
        ("(sex)", "sex"),
        ("a c0ck crowing", "cock"),
        ("a blood bath", "blood bath"),
        ("a blood-bath", "blood bath"),
        ("a Blood   Bath", "blood bath"),
        ("nude", "re:nud(e|ity)"),
        ("NUDITY", "re:nud(e|ity)"),
        ("unter", "Ünter"),
    ],
)
def test_blocked_terms_are_found_through_case_unicode_leetspeak_and_separators(prompt: str, entry: str) -> None:
    found = BLOCKLIST.match(prompt)
    assert found is not None
    assert found.entry == entry


@pytest.mark.parametrize(
    "prompt",
    [
        "Scunthorpe United",
        "a trip to Essex",
        "a sextant at sea",
        "a cocktail party",
        "Hitchcock film",
        "a bloodbath",
        "a blood orange bath",
        "455 cats",
        "sexy",
        "plan a b c",
        "",
    ],
)
def test_innocent_words_containing_a_blocked_word_are_not_matched(prompt: str) -> None:
    assert BLOCKLIST.match(prompt) is None


def test_a_regex_entry_matches_inside_words_as_written() -> None:
    assert Blocklist.from_entries(["re:nud"]).match("nudist beach") is not None


def test_the_negative_prompt_is_checked_and_named() -> None:
    assert BLOCKLIST.match("a cat", "sex") == BlockMatch("sex", "negative prompt", "sex")


def test_the_prompt_is_reported_before_the_negative_prompt() -> None:
    found = BLOCKLIST.match("nude cat", "sex")
    assert found is not None
    assert found.field == "prompt"


def test_the_match_reports_the_text_as_folded() -> None:
    assert BLOCKLIST.match("a C0CK crowing") == BlockMatch("cock", "prompt", "cock")


def test_an_empty_blocklist_matches_nothing() -> None:
    assert Blocklist.from_entries([]).match("anything at all") is None


def test_an_invalid_regex_entry_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match=r"'re:\(' is not a valid regular expression"):
        Blocklist.from_entries(["re:("])


def test_an_entry_without_letters_or_digits_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="no letters or digits"):
        Blocklist.from_entries(["!!!"])
