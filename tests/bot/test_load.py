"""Many people at once: every request ends in exactly one video or one clear refusal."""

from __future__ import annotations

import asyncio

from tests.discord_emulator import DiscordEmulator, Interaction
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import StartBot, has_video
from tests.patience import PATIENCE_S

EPHEMERAL = 1 << 6


async def test_200_requests_from_50_users_in_5_guilds_are_each_answered_once(
    start_bot: StartBot, discord_emulator: DiscordEmulator
) -> None:
    guilds = [discord_emulator.add_guild(f"guild {n}") for n in range(4)]
    channels = [discord_emulator.add_channel(guild, "videos") for guild in guilds]
    running = await start_bot(
        FakeGenerator(),
        guilds=guilds,
        queue_max_per_user=3,
        queue_max_jobs=60,
    )
    channels.insert(0, running.channel)
    every_guild = [running.guild, *guilds]
    users = [discord_emulator.add_user(f"user{n}") for n in range(50)]
    for n, user in enumerate(users):
        discord_emulator.add_member(every_guild[n % 5], user)

    interactions: list[Interaction] = []
    for wave in range(4):
        batch = await asyncio.gather(
            *(
                discord_emulator.invoke_slash(
                    user, channels[n % 5], "video", {"prompt": f"u{n} w{wave} -steps 2 -frames 2"}
                )
                for n, user in enumerate(users)
            )
        )
        interactions.extend(batch)

    def outcome(interaction: Interaction) -> str | None:
        if not interaction.callbacks:
            return None
        data = interaction.callbacks[0].data or {}
        if data.get("flags", 0) & EPHEMERAL:
            return "refused"
        return "video" if has_video(interaction.original) else None

    await discord_emulator.wait_for(lambda: all(outcome(i) for i in interactions), timeout=3 * PATIENCE_S)
    outcomes = [outcome(i) for i in interactions]
    assert len(outcomes) == 200
    assert all(len(i.callbacks) == 1 for i in interactions)  # answered exactly once
    videos = outcomes.count("video")
    assert videos + outcomes.count("refused") == 200
    assert videos >= 60
    assert len(running.generator.calls) == videos  # type: ignore[attr-defined]
