"""The emulated gateway shards as Discord does: a session that IDENTIFYs with `shard: [id, count]` is sent
the events of its guilds only, `(guild_id >> 22) % count == id`, and an impossible shard is refused.

Bare WebSockets speak for the bot, so what each shard is sent is read exactly as it arrives.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.discord_emulator import DiscordEmulator, Guild, Shard, shard_of
from tests.emulator.rawbot import raw_bot
from tests.patience import PATIENCE_S

GUILDS_AND_MESSAGES = (1 << 0) | (1 << 9)
SHARD_0, SHARD_1 = Shard(0, 2), Shard(1, 2)


class ShardSocket:
    """One shard's gateway connection, read frame by frame."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def identify(self, emulator: DiscordEmulator, shard: Any = None) -> None:
        """Send IDENTIFY, with `shard` as given unless None."""
        data: dict[str, Any] = {"token": emulator.bot_token, "intents": GUILDS_AND_MESSAGES, "properties": {}}
        if shard is not None:
            data["shard"] = [shard.id, shard.count] if isinstance(shard, Shard) else shard
        await self.ws.send_str(json.dumps({"op": 2, "d": data}))

    async def events(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        """The next `count` dispatches, as (event name, data)."""
        frames = [await self.ws.receive_json(timeout=PATIENCE_S) for _ in range(count)]
        assert all(frame["op"] == 0 for frame in frames), frames
        return [(frame["t"], frame["d"]) for frame in frames]


@contextlib.asynccontextmanager
async def shard_socket(emulator: DiscordEmulator) -> AsyncIterator[ShardSocket]:
    """A gateway connection that has read HELLO."""
    async with aiohttp.ClientSession() as session, session.ws_connect(emulator.gateway_url) as ws:
        assert (await ws.receive_json(timeout=PATIENCE_S))["op"] == 10
        yield ShardSocket(ws)


def guild_ids(events: list[tuple[str, dict[str, Any]]]) -> list[int]:
    """The guild each GUILD_CREATE was for, in order."""
    return [int(data["id"]) for name, data in events if name == "GUILD_CREATE"]


def ids(*guilds: Guild) -> list[int]:
    """The guilds' ids, in order."""
    return [guild.id for guild in guilds]


def test_a_guild_added_on_a_shard_has_an_id_that_routes_to_it(discord_emulator: DiscordEmulator) -> None:
    for shard in (Shard(0, 2), Shard(1, 2), Shard(2, 3), Shard(5, 16)):
        guild = discord_emulator.add_guild(f"on {shard.id} of {shard.count}", shard=shard)
        assert shard_of(guild.id, shard.count) == shard.id == (guild.id >> 22) % shard.count


async def test_each_shard_is_sent_ready_and_guild_create_for_its_own_guilds_only(
    discord_emulator: DiscordEmulator,
) -> None:
    a, b, c, d = (
        discord_emulator.add_guild(name, shard=shard)
        for name, shard in zip("abcd", [SHARD_0, SHARD_1] * 2, strict=True)
    )
    async with shard_socket(discord_emulator) as zero, shard_socket(discord_emulator) as one:
        await zero.identify(discord_emulator, SHARD_0)
        first = await zero.events(3)
        assert not discord_emulator.gateway.ready  # shard 1 of 2 has not identified yet
        await one.identify(discord_emulator, SHARD_1)
        second = await one.events(3)
        await discord_emulator.wait_until_ready()

    assert [name for name, _ in first] == ["READY", "GUILD_CREATE", "GUILD_CREATE"]
    assert first[0][1]["shard"] == [0, 2]
    assert [int(guild["id"]) for guild in first[0][1]["guilds"]] == ids(a, c) == guild_ids(first)
    assert [int(guild["id"]) for guild in second[0][1]["guilds"]] == ids(b, d) == guild_ids(second)


async def test_later_events_of_a_guild_go_to_its_shard_only(discord_emulator: DiscordEmulator) -> None:
    home = discord_emulator.add_guild("home", shard=SHARD_1)
    async with shard_socket(discord_emulator) as zero, shard_socket(discord_emulator) as one:
        await zero.identify(discord_emulator, SHARD_0)
        await one.identify(discord_emulator, SHARD_1)
        assert [name for name, _ in await zero.events(1)] == ["READY"]
        assert [name for name, _ in await one.events(2)] == ["READY", "GUILD_CREATE"]
        await discord_emulator.wait_until_ready()

        away = discord_emulator.add_guild("away", shard=SHARD_0)
        channel = discord_emulator.add_channel(home, "general")
        alice = discord_emulator.add_user("alice")
        discord_emulator.add_member(home, alice)
        async with raw_bot(discord_emulator) as bot:
            await bot.request(
                "PUT",
                f"/applications/{discord_emulator.application_id}/guilds/{home.id}/commands",
                [{"name": "ping", "description": "answers pong", "type": 1}],
            )
        interaction = await discord_emulator.invoke_slash(alice, channel, "ping")
        on_zero = await zero.events(1)
        on_one = await one.events(3)

    assert guild_ids(on_zero) == [away.id]
    assert [name for name, _ in on_one] == ["CHANNEL_CREATE", "GUILD_MEMBER_ADD", "INTERACTION_CREATE"]
    assert on_one[-1][1]["id"] == str(interaction.id)
    assert [dispatch.event for dispatch in discord_emulator.gateway.sessions[0].dispatches] == ["READY", "GUILD_CREATE"]


async def test_an_unsharded_identify_gets_every_guild(discord_emulator: DiscordEmulator) -> None:
    guilds = [
        discord_emulator.add_guild(name, shard=shard) for name, shard in zip("ab", [SHARD_0, SHARD_1], strict=True)
    ]
    async with shard_socket(discord_emulator) as socket:
        await socket.identify(discord_emulator)
        events = await socket.events(3)

    assert "shard" not in events[0][1]
    assert guild_ids(events) == ids(*guilds)


@pytest.mark.parametrize("shard", [[2, 2], [-1, 2], [0, 0], [0], "0,2", [0, "2"]])
async def test_an_identify_naming_an_impossible_shard_is_closed_with_4010(
    discord_emulator: DiscordEmulator, shard: object
) -> None:
    async with shard_socket(discord_emulator) as socket:
        await socket.identify(discord_emulator, shard)
        closing = await socket.ws.receive(timeout=PATIENCE_S)

    assert (closing.type, closing.data, closing.extra) == (aiohttp.WSMsgType.CLOSE, 4010, "Invalid shard.")
    assert discord_emulator.gateway.identify_count == 0


async def test_an_identify_with_another_shard_count_than_a_connected_shard_is_closed_with_4010(
    discord_emulator: DiscordEmulator,
) -> None:
    async with shard_socket(discord_emulator) as zero, shard_socket(discord_emulator) as other:
        await zero.identify(discord_emulator, SHARD_0)
        await zero.events(1)
        await other.identify(discord_emulator, Shard(1, 3))
        closing = await other.ws.receive(timeout=PATIENCE_S)

    assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 4010)


async def test_a_bot_that_must_shard_is_closed_with_4011_and_told_how_many_shards_to_run(
    discord_emulator: DiscordEmulator,
) -> None:
    discord_emulator.gateway.recommended_shards = 2
    discord_emulator.gateway.sharding_required = True
    async with shard_socket(discord_emulator) as socket:
        await socket.identify(discord_emulator)
        closing = await socket.ws.receive(timeout=PATIENCE_S)
    async with raw_bot(discord_emulator) as bot:
        answer = await bot.request("GET", "/gateway/bot")

    assert (closing.type, closing.data, closing.extra) == (aiohttp.WSMsgType.CLOSE, 4011, "Sharding required.")
    assert answer.status == 200
    assert answer.body["shards"] == 2
