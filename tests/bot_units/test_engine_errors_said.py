"""The engine's errors as the error handler says them: `generation/` knows no languages, so a refused
request field is said in the member's language around the engine's own field and value, with its range
said in that language too where it is one of the engine's templates."""

from __future__ import annotations

from bot.discord_io.error_handler import said_to
from bot.i18n import speaker_for
from generation.errors import InvalidRequestError, ModelLoadError


def test_a_refused_request_field_is_said_in_the_members_language_around_the_engines_values() -> None:
    error = InvalidRequestError("steps", 99, "between 1 and 50")

    assert said_to(speaker_for("de"), error) == "steps muss zwischen 1 und 50 sein (erhalten: 99)"
    assert said_to(speaker_for("en-US"), error) == str(error)


def test_the_engines_free_text_stays_english() -> None:
    error = ModelLoadError("the pipeline could not be loaded: out of memory")

    assert said_to(speaker_for("ja"), error) == "the pipeline could not be loaded: out of memory"
