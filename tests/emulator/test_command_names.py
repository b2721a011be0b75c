"""Slash command names and localizations: names lowercase letters, digits, `-` and `_` in any script
(1-32 characters), and every localization keyed by a Discord locale. Anything else is refused with
Discord's 400 Invalid Form Body (50035), `errors` naming the field, and recorded as a violation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.discord_emulator import DiscordEmulator
from tests.emulator.rawbot import Answer, raw_bot


def command(**changes: Any) -> dict[str, Any]:
    """A valid `/video` with one string option, and `changes` on top."""
    option = {"type": 3, "name": "prompt", "description": "What happens"}
    return {"name": "video", "description": "Make a video", "options": [option], **changes}


async def put(emulator: DiscordEmulator, *commands: dict[str, Any]) -> Answer:
    async with raw_bot(emulator) as bot:
        return await bot.request("PUT", f"/applications/{emulator.application_id}/commands", list(commands))


def refused(answer: Answer, emulator: DiscordEmulator) -> dict[str, Any]:
    """The `errors` of a 400 Invalid Form Body, once its violation is claimed."""
    assert (answer.status, answer.body["code"]) == (400, 50035)
    assert emulator.violations, "a refused sync is also a violation"
    emulator.violations.clear()
    errors: dict[str, Any] = answer.body["errors"]
    return errors


@pytest.mark.parametrize(
    "names",
    [
        {"de": "video", "ja": "動画", "hi": "वीडियो", "th": "วิดีโอ"},
        {"ru": "видео", "el": "βίντεο", "pt-BR": "vídeo_curto-2"},
    ],
    ids=["scripts", "letters-digits-dash-underscore"],
)
async def test_localized_names_in_any_script_are_accepted(
    discord_emulator: DiscordEmulator, names: dict[str, str]
) -> None:
    answer = await put(discord_emulator, command(name_localizations=names))

    assert answer.status == 200
    assert discord_emulator.commands()[0]["name_localizations"] == names


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Video", "Command name must be lowercase"),
        ("mein video", "Command name is invalid"),
        ("video!", "Command name is invalid"),
    ],
)
async def test_a_localized_name_breaking_the_rules_is_refused(
    discord_emulator: DiscordEmulator, name: str, reason: str
) -> None:
    answer = await put(discord_emulator, command(name_localizations={"de": name}))

    errors = refused(answer, discord_emulator)
    assert errors["0"]["name_localizations"]["de"]["_errors"][0]["message"] == reason


async def test_an_option_name_breaking_the_rules_is_refused(discord_emulator: DiscordEmulator) -> None:
    option = {"type": 3, "name": "prompt", "description": "What happens", "name_localizations": {"fr": "Invite"}}

    answer = await put(discord_emulator, command(options=[option]))

    errors = refused(answer, discord_emulator)
    assert errors["0"]["options"]["0"]["name_localizations"]["fr"]["_errors"][0]["message"] == (
        "Command name must be lowercase"
    )


async def test_a_localization_keyed_by_something_other_than_a_discord_locale_is_refused(
    discord_emulator: DiscordEmulator,
) -> None:
    answer = await put(discord_emulator, command(description_localizations={"german": "Ein Video machen"}))

    errors = refused(answer, discord_emulator)
    assert "german" in errors["0"]["description_localizations"]


async def test_choice_names_are_free_text_with_localizations_keyed_by_locale(discord_emulator: DiscordEmulator) -> None:
    choice = {"name": "Landscape 320×192", "value": "landscape", "name_localizations": {"de": "Quer 320×192"}}
    option = {"type": 3, "name": "size", "description": "Output size", "choices": [choice]}

    answer = await put(discord_emulator, command(options=[option]))

    assert answer.status == 200


async def test_a_user_command_name_may_have_capitals_and_spaces(discord_emulator: DiscordEmulator) -> None:
    answer = await put(
        discord_emulator, {"type": 2, "name": "Make Video", "name_localizations": {"de": "Video Machen"}}
    )

    assert answer.status == 200
