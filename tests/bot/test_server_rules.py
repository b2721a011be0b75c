"""A server's own rules, set by its admins in Discord: each applies to the next /video, where and as stated.

Every test runs on both backends: the rules live in the bot's SQLite file, or in Redis with the queue.
"""

from __future__ import annotations

from typing import Any

from tests.discord_emulator import DiscordEmulator, Interaction
from tests.discord_emulator.models import Channel, User
from tests.fixtures.bot import RunningBot, StartBot, ephemeral_reply, finished

MANAGE_GUILD = 1 << 5


async def admin_of(running: RunningBot) -> User:
    admin = running.emulator.add_user("admin")
    running.emulator.add_member(running.guild, admin, permissions=MANAGE_GUILD)
    return admin


async def says(running: RunningBot, user: User, command: str, options: dict[str, Any] | None = None) -> str:
    """The ephemeral answer `user` gets to `/command` in #general."""
    return await ephemeral_reply(await running.emulator.invoke_slash(user, running.channel, command, options or {}))


async def video(running: RunningBot, user: User, channel: Channel, prompt: str) -> Interaction:
    return await running.emulator.invoke_slash(user, channel, "video", {"prompt": prompt})


async def test_a_server_cooldown_refuses_a_second_video_and_a_channel_rule_lifts_it_there(start_bot: StartBot) -> None:
    running = await start_bot()
    admin = await admin_of(running)
    lounge = running.emulator.add_channel(running.guild, "lounge")

    assert "server cooldown: not set → 60 s" in await says(running, admin, "videoadmin rules limits", {"cooldown": 60})
    await says(running, admin, "videoadmin rules limits", {"channel": lounge, "cooldown": 0})
    await (await video(running, running.alice, running.channel, "a cat")).wait_for_response()
    refused = await video(running, running.alice, running.channel, "a dog")
    first_in_lounge = await video(running, running.alice, lounge, "a cow")
    second_in_lounge = await video(running, running.alice, lounge, "a hen")

    assert (await ephemeral_reply(refused)).startswith("Slow down: you can make another video in 60 seconds")
    await finished(running.emulator, first_in_lounge)
    await finished(running.emulator, second_in_lounge)


async def test_allowed_channels_replace_the_operators_and_threads_follow_their_channel(start_bot: StartBot) -> None:
    running = await start_bot()
    admin = await admin_of(running)
    studio = running.emulator.add_channel(running.guild, "studio")
    thread = running.emulator.add_thread(studio, "cats", owner=running.alice)

    await says(running, admin, "videoadmin rules channels", {"action": "allow", "channel": studio})
    refused = await video(running, running.alice, running.channel, "a cat")
    in_studio = await video(running, running.alice, studio, "a cat")
    in_thread = await video(running, running.bob, thread, "a dog")

    assert f"Try <#{studio.id}>" in await ephemeral_reply(refused)
    await finished(running.emulator, in_studio)
    await finished(running.emulator, in_thread)


async def test_allowed_roles_refuse_members_without_one(start_bot: StartBot) -> None:
    running = await start_bot()
    admin = await admin_of(running)
    creators = running.emulator.add_role(running.guild, "Creators")
    carol = running.emulator.add_user("carol")
    running.emulator.add_member(running.guild, carol, roles=[creators])

    await says(running, admin, "videoadmin rules roles", {"action": "allow", "role": creators})
    refused = await video(running, running.alice, running.channel, "a cat")
    allowed = await video(running, carol, running.channel, "a cat")

    assert f"<@&{creators.id}>" in await ephemeral_reply(refused)
    await finished(running.emulator, allowed)


async def test_server_blocklist_entries_add_to_the_operators_which_stay(start_bot: StartBot) -> None:
    running = await start_bot(blocklist=["gore"], blocklist_mode="refuse_everywhere")
    admin = await admin_of(running)

    await says(running, admin, "videoadmin rules blocklist", {"add": "re:drag\\w*"})
    by_server = await video(running, running.alice, running.channel, "dragons at dusk")
    by_operator = await video(running, running.alice, running.channel, "gore")
    cannot_remove = await says(running, admin, "videoadmin rules blocklist", {"remove": "gore"})
    bad_regex = await says(running, admin, "videoadmin rules blocklist", {"add": "re:(unclosed"})
    allowed = await video(running, running.bob, running.channel, "a lake")

    assert "Your prompt contains “dragons”" in await ephemeral_reply(by_server)
    assert "Your prompt contains “gore”" in await ephemeral_reply(by_operator)
    assert "one of this server's entries" in cannot_remove
    assert "not a valid regular expression" in bad_regex
    assert "**Blocklist**: the operator's 1 entry + `re:drag\\w*` · server rule" in await says(
        running, admin, "videoadmin rules show"
    )
    await finished(running.emulator, allowed)


async def test_the_blocklist_mode_of_a_server_replaces_the_operators(
    start_bot: StartBot, discord_emulator: DiscordEmulator
) -> None:
    running = await start_bot(blocklist=["gore"])  # refused outside age-restricted channels only
    admin = await admin_of(running)
    adults = discord_emulator.add_channel(running.guild, "after-dark", nsfw=True)

    await says(running, admin, "videoadmin rules blocklist", {"mode": "refuse_everywhere"})
    refused = await video(running, running.alice, adults, "gore fest")

    assert "not allowed on this server" in await ephemeral_reply(refused)


async def test_caps_on_steps_frames_and_size_tighten_the_operators_and_a_channel_may_differ(
    start_bot: StartBot,
) -> None:
    running = await start_bot(max_steps=50)
    admin = await admin_of(running)
    lounge = running.emulator.add_channel(running.guild, "lounge")

    await says(running, admin, "videoadmin rules limits", {"max_steps": 10, "max_frames": 8, "max_size": "64x64"})
    await says(running, admin, "videoadmin rules limits", {"channel": lounge, "max_steps": 30})
    above_operator = await says(running, admin, "videoadmin rules limits", {"max_steps": 80})
    steps = await video(running, running.alice, running.channel, "a cat -steps 20")
    frames = await video(running, running.alice, running.channel, "a cat -frames 16")
    size = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a", "size": "small"}
    )
    in_lounge = await video(running, running.bob, lounge, "a cat -steps 20")

    assert "at most 50, this bot's MAX_STEPS" in above_operator
    assert "between 1 and 10 on this server" in await ephemeral_reply(steps)
    assert "between 1 and 8 on this server" in await ephemeral_reply(frames)
    assert "size must be one of tiny 64×64" in await ephemeral_reply(size)
    await finished(running.emulator, in_lounge)


async def test_members_cannot_change_rules(start_bot: StartBot) -> None:
    running = await start_bot()

    reply = await says(running, running.alice, "videoadmin rules limits", {"cooldown": 600})
    second = await video(running, running.alice, running.channel, "a cat")
    await second.wait_for_response()
    third = await video(running, running.alice, running.channel, "a dog")

    assert "Manage Server" in reply
    await finished(running.emulator, third)
    assert "Manage Server" in await says(running, running.alice, "videoadmin audit")


async def test_the_audit_trail_lists_each_change_newest_first_with_who_and_old_to_new(start_bot: StartBot) -> None:
    running = await start_bot()
    admin = await admin_of(running)

    await says(running, admin, "videoadmin rules limits", {"cooldown": 30})
    await says(running, admin, "videoadmin rules limits", {"cooldown": 5})
    await says(running, admin, "videoadmin rules quota", {"videos": 3, "reset_hour": 6})
    trail = (await says(running, admin, "videoadmin audit")).strip().splitlines()

    assert [line.split(" · ", 1)[1] for line in trail] == [
        "daily quota: not set → 3 videos per day from 06:00 UTC",
        "server cooldown: 30 s → 5 s",
        "server cooldown: not set → 30 s",
    ]
    assert all(f"<@{admin.id}>" in line for line in trail)


async def test_the_effective_rules_say_where_each_value_comes_from(start_bot: StartBot) -> None:
    running = await start_bot(cooldown_s=10)
    admin = await admin_of(running)
    lounge = running.emulator.add_channel(running.guild, "lounge")

    await says(running, admin, "videoadmin rules limits", {"max_steps": 20})
    await says(running, admin, "videoadmin rules limits", {"channel": lounge, "max_frames": 16})
    shown = await says(running, admin, "videoadmin rules show", {"channel": lounge})

    assert "**Cooldown**: 10 s · operator default" in shown
    assert "**Max steps**: 20 · server rule" in shown
    assert "**Max frames**: 16 · channel rule" in shown
    assert "**Daily quota**: no limit · operator default" in shown


async def test_a_member_with_several_roles_gets_the_best_perk_of_each(start_bot: StartBot) -> None:
    running = await start_bot(queue_max_per_user=3)
    admin = await admin_of(running)
    boosters = running.emulator.add_role(running.guild, "Boosters")
    patrons = running.emulator.add_role(running.guild, "Patrons")
    carol = running.emulator.add_user("carol")
    running.emulator.add_member(running.guild, carol, roles=[boosters, patrons])

    await says(running, admin, "videoadmin rules quota", {"videos": 2})
    await says(running, admin, "videoadmin rules perk", {"role": boosters, "daily_quota": 10, "weight": 2})
    await says(running, admin, "videoadmin rules perk", {"role": patrons, "daily_quota": 5, "max_held": 6, "weight": 3})
    shown = await says(running, admin, "videoadmin rules show", {"member": carol})

    assert f"**Daily quota**: 10 videos per rolling 24 h · role perk <@&{boosters.id}>" in shown
    assert f"**Jobs held at once**: 6 · role perk <@&{patrons.id}>" in shown
    assert f"**Weight in the fair order**: 3 · role perk <@&{patrons.id}>" in shown


async def test_rules_survive_a_restart(start_bot: StartBot) -> None:
    running = await start_bot()
    admin = await admin_of(running)
    await says(running, admin, "videoadmin rules limits", {"max_steps": 10})
    await running.bot.close()

    again = await start_bot()
    refused = await video(again, again.alice, again.channel, "a cat -steps 20")

    assert "between 1 and 10 on this server" in await ephemeral_reply(refused)
    assert "server max steps: not set → 10" in await says(again, admin, "videoadmin audit")


async def test_defaults_above_a_server_cap_are_refused_when_set(start_bot: StartBot) -> None:
    running = await start_bot()
    admin = await admin_of(running)

    await says(running, admin, "videoadmin rules limits", {"max_steps": 10})
    refused = await says(running, admin, "videoadmin defaults", {"scope": "server", "steps": 20})

    assert "steps must be between 1 and 10 on this server" in refused
