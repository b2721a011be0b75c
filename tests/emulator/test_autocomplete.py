"""Autocomplete: a member typing into an option the command declares with autocomplete is sent to the bot
(interaction type 4), and the bot's menu comes back as an autocomplete result (callback type 8),
checked against Discord's OpenAPI spec like every other request."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import World
from tests.fixtures.discord import DiscordErrorLog


async def test_the_bots_menu_answers_what_is_typed(world: World) -> None:
    typing = await world.emulator.autocomplete(world.alice, world.channel, "t colour", {"name": "red"}, "name")

    callback = await typing.wait_for_response()

    assert callback.type == 8
    assert callback.data == {
        "choices": [{"name": "red", "value": "red"}, {"name": "reddish brown", "value": "reddish brown"}]
    }
    assert typing.original is None  # a menu is no message
    assert world.bot.seen == []  # the command itself did not run


async def test_the_bot_sees_an_autocomplete_interaction_with_the_focused_option(world: World) -> None:
    typing = await world.emulator.autocomplete(world.alice, world.channel, "t colour", {"name": "bl"}, "name")
    await typing.wait_for_response()

    [option] = typing.data["options"][0]["options"]

    assert option == {"name": "name", "type": 3, "value": "bl", "focused": True}


async def test_more_choices_than_discord_takes_are_refused_as_the_spec_says(
    world: World, discord_errors: DiscordErrorLog
) -> None:
    typing = await world.emulator.autocomplete(world.alice, world.channel, "t colour", {"name": "many"}, "name")

    [refused] = await discord_errors.expect()

    assert "400 Bad Request" in str(refused.exc_info[1] if refused.exc_info else "")
    assert "data.choices" in world.emulator.violations[0].detail
    assert not typing.responded
    world.emulator.violations.clear()


async def test_only_options_that_declare_autocomplete_can_be_typed_into(world: World) -> None:
    with pytest.raises(ValueError, match="does not declare autocomplete"):
        await world.emulator.autocomplete(world.alice, world.channel, "t echo", {"text": "hi"}, "text")


async def test_a_command_answer_to_an_autocomplete_is_refused(world: World) -> None:
    command = await world.emulator.invoke_slash(world.alice, world.channel, "t colour", {"name": "red"})

    callback = await command.wait_for_response()

    assert callback.type == 4
    assert command.original is not None
    assert command.original.content == "you picked red"
