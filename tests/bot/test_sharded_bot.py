"""SHARD_COUNT without SHARD_IDS: one process runs every shard's gateway connection and answers in the
guilds of each, as the unsharded bot does in all of them."""

from __future__ import annotations

from bot.startup.client import ShardedVideoBot
from tests.discord_emulator import DiscordEmulator, Shard
from tests.fixtures.bot import StartBot, finished

SHARDS = {Shard(0, 2), Shard(1, 2)}


async def test_one_process_running_both_shards_delivers_videos_in_the_guilds_of_each(
    start_bot: StartBot, discord_client_endpoints: DiscordEmulator
) -> None:
    emulator = discord_client_endpoints
    places = []
    for shard in sorted(SHARDS, key=lambda shard: shard.id):
        guild = emulator.add_guild(f"on shard {shard.id}", shard=shard)
        member = emulator.add_user(f"member{shard.id}")
        emulator.add_member(guild, member)
        places.append((guild, emulator.add_channel(guild, "videos"), member))
    running = await start_bot(guilds=[guild for guild, _, _ in places], shard_count=2)

    asked = [
        await emulator.invoke_slash(member, channel, "video", {"prompt": f"a wave in {guild.name}"})
        for guild, channel, member in places
    ]
    for interaction in asked:
        await finished(emulator, interaction)

    assert isinstance(running.bot, ShardedVideoBot)
    assert sorted(running.bot.shards) == [0, 1]
    assert {session.shard for session in emulator.gateway.sessions.values()} == SHARDS
    assert running.bot.gateway_connected()
