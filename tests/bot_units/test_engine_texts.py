"""The engine's texts, written in English, said in the member's language (a failed job's reason, what a
refused picture is): every one the engine gives is one the bot knows, its values read back out of a
templated one, and anything else said as it came."""

from __future__ import annotations

from pathlib import Path

import generation.queue.redis.queue as redis_queue
from bot.i18n import speaker_for
from bot.i18n.engine_texts import (
    FIXED,
    PICTURE_FIXED,
    PICTURE_TEMPLATES,
    RANGE_TEMPLATES,
    TEMPLATES,
    engine_reason,
    picture_text,
)
from generation.conditioning import FIXED_PICTURE_TEXTS, NOT_AN_IMAGE, PIXELS, ImageLimits
from generation.conditioning import PICTURE_TEMPLATES as ENGINE_PICTURE_TEMPLATES
from generation.queue.reasons import (
    CRASHED,
    FIXED_REASONS,
    OUT_OF_MEMORY_FOR,
    REASON_TEMPLATES,
    STOPPED_WORKERS,
    TIMED_OUT,
)
from generation.request import RANGE_TEMPLATES as ENGINE_RANGE_TEMPLATES


def test_every_reason_the_engine_gives_is_one_the_bot_says() -> None:
    assert set(FIXED) == set(FIXED_REASONS)
    assert set(TEMPLATES) == set(REASON_TEMPLATES)


def test_everything_the_engine_says_of_a_picture_is_something_the_bot_says() -> None:
    assert set(PICTURE_FIXED) == set(FIXED_PICTURE_TEXTS)
    assert set(PICTURE_TEMPLATES) == set(ENGINE_PICTURE_TEMPLATES)
    assert set(RANGE_TEMPLATES) == set(ENGINE_RANGE_TEMPLATES)


def test_a_refused_picture_and_what_is_accepted_are_said_in_the_members_language() -> None:
    german = speaker_for("de")
    limits = ImageLimits(max_bytes=10 * 2**20, max_pixels=4_000_000)

    assert german.say(picture_text(NOT_AN_IMAGE)) == "eine Datei, die kein lesbares Bild ist"
    assert german.say(picture_text(PIXELS.format(width=3000, height=2000))) == "3000×2000 Pixel"
    assert german.say(picture_text(limits.describe())) == (
        "ein PNG, JPEG oder WebP mit höchstens 10 MiB und 4,000,000 Pixeln"
    )


def test_the_reason_redis_writes_for_a_job_that_stopped_its_workers_is_the_template_the_bot_knows() -> None:
    before, after = STOPPED_WORKERS.split("{crashes}")
    script = Path(redis_queue.__file__).parent / "lua" / "reclaim.lua"

    assert f"local reason = '{before}' .. crashes .. '{after}'" in script.read_text()


def test_a_fixed_reason_is_said_in_the_members_language() -> None:
    said = speaker_for("de").say(engine_reason(FIXED_REASONS[0]))

    assert said == "der Eintrag der Warteschlange zu diesem Auftrag war beschädigt, daher ist seinem Ergebnis " + (
        "nicht zu trauen; bitte frag erneut"
    )


def test_a_templated_reason_is_said_with_the_values_the_engine_wrote_into_it() -> None:
    crashed = CRASHED.format(crashes=3)
    timed_out = TIMED_OUT.format(limit_s="1.5")
    out_of_memory = OUT_OF_MEMORY_FOR.format(count=2, frames=49, width=832, height=480)

    assert speaker_for("fr").say(engine_reason(crashed)) == (
        "ce prompt a fait planter le worker 3 fois, il ne sera donc plus exécuté"
    )
    assert speaker_for("ja").say(engine_reason(timed_out)) == "動画の作成が 1.5 秒の制限を超えたため停止しました"
    assert (
        speaker_for("de")
        .say(engine_reason(out_of_memory))
        .startswith("der GPU ging der Speicher aus für 2 × 49 Frames in 832×480;")
    )
    assert speaker_for("en-US").say(engine_reason(crashed)) == crashed


def test_a_reason_the_bot_does_not_know_is_said_in_english_as_it_came() -> None:
    unknown = "could not encode 3f2a.mp4: broken pipe"
    # A reason shaped like a template but with words where its values go is not the engine's.
    forged = CRASHED.replace("{crashes}", "<@everyone> many")

    assert speaker_for("de").say(engine_reason(unknown)) == unknown
    assert speaker_for("de").say(engine_reason(forged)) == forged
