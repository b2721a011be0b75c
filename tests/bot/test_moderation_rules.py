"""Who may ask for videos where: channels, roles, DMs, blocklist, cooldown. Every refusal is ephemeral."""

from __future__ import annotations

from tests.discord_emulator import DiscordEmulator
from tests.fixtures.bot import StartBot, ephemeral_reply, finished


async def test_a_blocklisted_prompt_is_refused_outside_age_restricted_channels(
    start_bot: StartBot, discord_emulator: DiscordEmulator
) -> None:
    running = await start_bot(blocklist=["gore"])
    adults = discord_emulator.add_channel(running.guild, "after-dark", nsfw=True)

    refused = await discord_emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "G0RE fest"})
    allowed = await discord_emulator.invoke_slash(running.alice, adults, "video", {"prompt": "gore fest"})

    assert "only allowed in age-restricted channels" in await ephemeral_reply(refused)
    await finished(discord_emulator, allowed)


async def test_the_blocklist_also_applies_to_the_negative_prompt(start_bot: StartBot) -> None:
    running = await start_bot(blocklist=["re:blood\\w*"], blocklist_mode="refuse_everywhere")

    refused = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a lake", "negative_prompt": "bloody"}
    )

    assert "Your negative prompt contains “bloody”" in await ephemeral_reply(refused)


async def test_the_models_own_default_negative_prompt_is_not_held_against_the_user(start_bot: StartBot) -> None:
    running = await start_bot(
        model_profile="wan2.1-t2v-1.3b", blocklist=["ugly"], blocklist_mode="refuse_everywhere", video_sizes=["w:64x64"]
    )

    asked = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a lake"})

    await finished(running.emulator, asked)


async def test_video_works_only_in_allowed_channels(start_bot: StartBot, discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("Studio")
    studio = discord_emulator.add_channel(guild, "render-room")
    running = await start_bot(guilds=[guild], allowed_channel_ids=[studio.id])
    discord_emulator.add_member(guild, running.alice)

    refused = await discord_emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat"})
    allowed = await discord_emulator.invoke_slash(running.alice, studio, "video", {"prompt": "a cat"})

    assert f"<#{studio.id}>" in await ephemeral_reply(refused)
    await finished(discord_emulator, allowed)


async def test_video_needs_an_allowed_role_when_roles_are_configured(
    start_bot: StartBot, discord_emulator: DiscordEmulator
) -> None:
    guild = discord_emulator.add_guild("Studio")
    studio = discord_emulator.add_channel(guild, "general")
    creators = discord_emulator.add_role(guild, "Creators")
    carol, dave = discord_emulator.add_user("carol"), discord_emulator.add_user("dave")
    discord_emulator.add_member(guild, carol, roles=[creators])
    discord_emulator.add_member(guild, dave)
    await start_bot(guilds=[guild], allowed_role_ids=[creators.id])

    refused = await discord_emulator.invoke_slash(dave, studio, "video", {"prompt": "a cat"})
    allowed = await discord_emulator.invoke_slash(carol, studio, "video", {"prompt": "a cat"})

    assert f"<@&{creators.id}>" in await ephemeral_reply(refused)
    await finished(discord_emulator, allowed)


async def test_direct_messages_are_refused_unless_enabled(start_bot: StartBot) -> None:
    running = await start_bot(discord_guild_ids=[])  # global commands, so they exist in DMs too
    dm = running.emulator.add_dm_channel(running.alice)

    refused = await running.emulator.invoke_slash(running.alice, dm, "video", {"prompt": "a cat"})

    assert "direct messages" in await ephemeral_reply(refused)


async def test_a_cooldown_spaces_out_one_users_requests(start_bot: StartBot) -> None:
    running = await start_bot(cooldown_s=60)
    emulator = running.emulator

    first = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat"})
    await first.wait_for_response()
    second = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a dog"})
    other_user = await emulator.invoke_slash(running.bob, running.channel, "video", {"prompt": "a cow"})

    assert (await ephemeral_reply(second)).startswith("Slow down: you can make another video in")
    await finished(emulator, other_user)


async def test_a_full_personal_queue_is_refused_with_the_cap(start_bot: StartBot) -> None:
    running = await start_bot(queue_max_per_user=1)
    emulator = running.emulator

    first = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat -steps 40"})
    await first.wait_for_response()
    second = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a dog"})

    assert "1" in await ephemeral_reply(second)
