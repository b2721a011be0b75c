"""The fixtures: errors discord.py only logs stop the test at once; endpoints are restored."""

from __future__ import annotations

import logging

import discord
import pytest

from tests.discord_emulator import DiscordEmulator
from tests.fixtures.discord import DiscordErrorLog, discord_endpoints


async def test_a_logged_discord_error_stops_waits_at_once(
    discord_emulator: DiscordEmulator, discord_errors: DiscordErrorLog
) -> None:
    logging.getLogger("discord.ui.view").error("Ignoring exception in view: boom")
    with pytest.raises(AssertionError, match="boom"):
        await discord_emulator.wait_for(lambda: False, timeout=5)
    assert [record.name for record in discord_errors.take()] == ["discord.ui.view"]


async def test_waits_work_again_once_the_error_is_claimed(
    discord_emulator: DiscordEmulator, discord_errors: DiscordErrorLog
) -> None:
    logging.getLogger("discord.client").error("Ignoring exception in on_message")
    discord_errors.take()
    await discord_emulator.wait_for(lambda: True, timeout=1)


async def test_endpoints_point_at_the_emulator_and_are_restored(discord_emulator: DiscordEmulator) -> None:
    original = discord.http.Route.BASE
    with discord_endpoints(discord_emulator):
        assert discord_emulator.api_url == discord.http.Route.BASE
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == discord_emulator.gateway_url
    assert original == discord.http.Route.BASE
