"""Buttons and modals round-trip through the real discord.py view and modal machinery."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import World


async def test_button_click_updates_its_message(world: World) -> None:
    command = await world.emulator.invoke_slash(world.alice, world.channel, "t pick")
    await command.wait_for_response()
    assert command.original is not None
    click = await world.emulator.click_button(world.alice, command.original, "ok")
    await click.wait_for_response()
    assert command.original.content == "clicked by alice"
    assert command.original.components == []


async def test_button_click_is_a_message_component_interaction(world: World) -> None:
    command = await world.emulator.invoke_slash(world.alice, world.channel, "t pick")
    await command.wait_for_response()
    assert command.original is not None
    click = await world.emulator.click_button(world.alice, command.original, "ok")
    callback = await click.wait_for_response()
    assert callback.type == 7
    assert click.original is command.original


async def test_modal_submission_reaches_the_modal(world: World) -> None:
    command = await world.emulator.invoke_slash(world.alice, world.channel, "t ask")
    await command.wait_for_response()
    assert command.modal is not None
    submit = await world.emulator.submit_modal(world.alice, command, "ask", {"answer": "forty-two"})
    await submit.wait_for_response()
    assert submit.original is not None
    assert submit.original.content == "you said forty-two"


async def test_modal_text_over_its_max_length_cannot_be_submitted(world: World) -> None:
    command = await world.emulator.invoke_slash(world.alice, world.channel, "t ask")
    await command.wait_for_response()
    with pytest.raises(ValueError, match=r"\.\.20 characters, not 21"):
        await world.emulator.submit_modal(world.alice, command, "ask", {"answer": "x" * 21})


async def test_a_required_modal_input_cannot_be_left_empty(world: World) -> None:
    command = await world.emulator.invoke_slash(world.alice, world.channel, "t ask")
    await command.wait_for_response()
    with pytest.raises(ValueError, match="required"):
        await world.emulator.submit_modal(world.alice, command, "ask", {"answer": ""})


async def test_modal_inputs_must_exist(world: World) -> None:
    command = await world.emulator.invoke_slash(world.alice, world.channel, "t ask")
    await command.wait_for_response()
    with pytest.raises(ValueError, match="nope"):
        await world.emulator.submit_modal(world.alice, command, "ask", {"nope": "x"})
