"""What one message may hold: 2,000 characters of content, 6,000 of embeds in all, and the per-field limits.

Anything over is refused with Discord's 400 Invalid Form Body (50035), `errors` naming the field, and is
recorded as a violation, on every route that carries a message.
"""

from __future__ import annotations

from typing import Any

import discord
import pytest

from tests.discord_emulator import DiscordEmulator, ViolationKind
from tests.emulator.conftest import World
from tests.emulator.rawbot import Answer, RawBot, raw_bot
from tests.fixtures.discord import DiscordErrorLog

# 6,000 characters over two embeds, counting every part Discord counts.
AT_THE_EMBED_LIMIT = [
    {"title": "t" * 256, "description": "d" * 2744},
    {
        "description": "d" * 2000,
        "fields": [{"name": "n" * 256, "value": "v" * 244}],
        "footer": {"text": "f" * 244},
        "author": {"name": "a" * 256},
    },
]
OVER_THE_EMBED_LIMIT = [AT_THE_EMBED_LIMIT[0], {**AT_THE_EMBED_LIMIT[1], "footer": {"text": "f" * 245}}]


def _refused_for(answer: Answer, emulator: DiscordEmulator) -> dict[str, Any]:
    """The `errors` of a 400 Invalid Form Body, once its violation is claimed."""
    assert (answer.status, answer.body["code"]) == (400, 50035)
    assert emulator.violations, "a refused message is also a violation"
    emulator.violations.clear()
    errors: dict[str, Any] = answer.body["errors"]
    return errors


async def _post(emulator: DiscordEmulator, body: dict[str, Any]) -> Answer:
    channel = emulator.add_channel(emulator.add_guild("home"))
    async with raw_bot(emulator) as bot:
        return await bot.request("POST", f"/channels/{channel.id}/messages", body)


async def test_a_message_of_2000_characters_is_accepted(discord_emulator: DiscordEmulator) -> None:
    assert (await _post(discord_emulator, {"content": "x" * 2000})).status == 200


async def test_a_message_over_2000_characters_is_refused(discord_emulator: DiscordEmulator) -> None:
    answer = await _post(discord_emulator, {"content": "x" * 2001})
    [violation] = discord_emulator.violations
    assert (violation.kind, violation.detail) == (ViolationKind.RULE, "$.content: Must be 2000 or fewer in length.")
    assert _refused_for(answer, discord_emulator) == {
        "content": {"_errors": [{"code": 50035, "message": "Must be 2000 or fewer in length."}]}
    }


async def test_embeds_of_6000_characters_in_all_are_accepted(discord_emulator: DiscordEmulator) -> None:
    assert (await _post(discord_emulator, {"embeds": AT_THE_EMBED_LIMIT})).status == 200


async def test_embeds_over_6000_characters_in_all_are_refused(discord_emulator: DiscordEmulator) -> None:
    answer = await _post(discord_emulator, {"embeds": OVER_THE_EMBED_LIMIT})
    assert [v.kind for v in discord_emulator.violations] == [ViolationKind.RULE]
    assert _refused_for(answer, discord_emulator) == {
        "embeds": {"_errors": [{"code": 50035, "message": "Embed size exceeds maximum size of 6000"}]}
    }


@pytest.mark.parametrize(
    ("embed", "field"),
    [
        ({"title": "x" * 257}, ["title"]),
        ({"description": "x" * 4097}, ["description"]),
        ({"fields": [{"name": "n", "value": "v"}] * 26}, ["fields"]),
        ({"fields": [{"name": "n" * 257, "value": "v"}]}, ["fields", "0", "name"]),
        ({"fields": [{"name": "n", "value": "v" * 1025}]}, ["fields", "0", "value"]),
        ({"description": "d", "footer": {"text": "f" * 2049}}, ["footer", "text"]),
        ({"description": "d", "author": {"name": "a" * 257}}, ["author", "name"]),
    ],
    ids=["title", "description", "fields", "field name", "field value", "footer", "author name"],
)
async def test_each_embed_field_over_its_own_limit_is_refused(
    discord_emulator: DiscordEmulator, embed: dict[str, Any], field: list[str]
) -> None:
    errors = _refused_for(await _post(discord_emulator, {"embeds": [embed]}), discord_emulator)
    node = errors["embeds"]["0"]
    for key in field:
        node = node[key]
    assert node["_errors"]


async def _target(bot: RawBot, world: World, route: str) -> tuple[str, str]:
    """(method, path) of a request on `route` that carries a message."""
    interaction = await world.emulator.invoke_slash(world.alice, world.channel, "t echo", {"text": "hi"})
    await interaction.wait_for_response()
    webhook = f"/webhooks/{world.emulator.application_id}/{interaction.token}"
    channel = f"/channels/{world.channel.id}/messages"
    if route == "channel post":
        return "POST", channel
    if route == "channel edit":
        return "PATCH", f"{channel}/{(await bot.post(world.channel.id, 'to edit')).body['id']}"
    if route == "follow-up":
        return "POST", webhook
    if route == "original edit":
        return "PATCH", webhook + "/messages/@original"
    follow_up = await bot.request("POST", webhook + "?wait=true", {"content": "to edit"})
    return "PATCH", f"{webhook}/messages/{follow_up.body['id']}"


@pytest.mark.parametrize("route", ["channel post", "channel edit", "follow-up", "original edit", "follow-up edit"])
@pytest.mark.parametrize(
    ("body", "field"), [({"content": "x" * 2001}, "content"), ({"embeds": OVER_THE_EMBED_LIMIT}, "embeds")]
)
async def test_the_limits_hold_on_every_route_that_carries_a_message(
    world: World, route: str, body: dict[str, Any], field: str
) -> None:
    async with raw_bot(world.emulator) as bot:
        method, path = await _target(bot, world, route)
        answer = await bot.request(method, path, body)
    assert field in _refused_for(answer, world.emulator)


@pytest.mark.parametrize(
    ("command", "options", "field"),
    [
        ("t echo", {"text": "x", "times": 2001}, "content"),
        ("t embeds", {"count": 2, "size": 3001}, "embeds"),
    ],
)
async def test_an_interaction_response_over_the_limits_is_refused(
    world: World, discord_errors: DiscordErrorLog, command: str, options: dict[str, Any], field: str
) -> None:
    interaction = await world.emulator.invoke_slash(world.alice, world.channel, command, options)
    [logged] = await discord_errors.expect()
    assert logged.exc_info is not None
    error = logged.exc_info[1]
    assert isinstance(error, discord.app_commands.CommandInvokeError)
    assert isinstance(error.original, discord.HTTPException)
    assert (error.original.status, error.original.code) == (400, 50035)
    assert field in error.original.text
    assert not interaction.responded
    [violation] = world.emulator.violations
    assert f"$.data.{field}" in violation.detail
    world.emulator.violations.clear()
