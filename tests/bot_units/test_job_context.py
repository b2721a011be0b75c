"""The Discord side of a job, as stored with it: what a restart reads back is what was written."""

from __future__ import annotations

import json
from dataclasses import asdict

from bot.delivery.job_context import JobContext
from bot.i18n import Text, speaker_for

CONTEXT = JobContext(
    user_id=1,
    channel_id=2,
    guild_id=3,
    application_id=4,
    interaction_token="token",
    interaction_created_at=1_700_000_000.0,
    attachment_size_limit=10 * 1024 * 1024,
    status_message_id=5,
    adjustments=(
        Text(
            "frames {frames} → {fitted}: {model} makes {pattern} frames",
            frames=12,
            fitted=17,
            model="LTX-Video (text-to-video)",
            pattern="8k+1",
        ),
    ),
    locale="de",
    public_locale="pt-BR",
)


def test_a_context_reads_back_as_written() -> None:
    assert JobContext.loads(CONTEXT.dumps()) == CONTEXT


def test_a_context_saved_before_adjustments_were_kept_reads_back_without_any() -> None:
    older = asdict(CONTEXT)
    del older["adjustments"]

    assert JobContext.loads(json.dumps(older)).adjustments == ()


def test_a_context_saved_before_languages_were_kept_reads_back_without_them() -> None:
    older = json.loads(CONTEXT.dumps())
    del older["locale"], older["public_locale"]

    restored = JobContext.loads(json.dumps(older))

    assert (restored.locale, restored.public_locale) == (None, None)


def test_an_adjustment_reads_back_as_its_values_said_in_each_readers_language() -> None:
    (adjustment,) = JobContext.loads(CONTEXT.dumps()).adjustments

    assert str(adjustment) == "frames 12 → 17: LTX-Video (text-to-video) makes 8k+1 frames"
    assert speaker_for("de").say(adjustment) == "Frames 12 → 17: LTX-Video (text-to-video) macht 8k+1 Frames"


def test_an_adjustment_saved_in_words_by_an_older_version_reads_back_as_those_words() -> None:
    older = json.loads(CONTEXT.dumps())
    older["adjustments"] = ["frames 12 → 17: LTX-Video (text-to-video) makes 8k+1 frames"]

    restored = JobContext.loads(json.dumps(older))

    assert restored.adjustments == ("frames 12 → 17: LTX-Video (text-to-video) makes 8k+1 frames",)
