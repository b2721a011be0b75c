"""Daily quotas through the emulator, on both backends: the operator's DAILY_QUOTA, the refusal that says
when the next video is possible, and `/quota` (and `/history`) showing a member where they stand."""

from __future__ import annotations

import math
from typing import Any

from generation.queue.allowance import DAY_S
from tests.discord_emulator.models import User
from tests.fixtures.bot import RunningBot, StartBot, embed_text, ephemeral_reply, finished

MANAGE_GUILD = 1 << 5


async def make_video(running: RunningBot, user: User, prompt: str = "a heron") -> None:
    """`/video` by `user`, until its video is posted."""
    await finished(
        running.emulator, await running.emulator.invoke_slash(user, running.channel, "video", {"prompt": prompt})
    )


async def asks(running: RunningBot, user: User, command: str, options: dict[str, Any] | None = None) -> str:
    """The ephemeral answer to `user`'s `command`."""
    return await ephemeral_reply(await running.emulator.invoke_slash(user, running.channel, command, options or {}))


async def test_the_third_video_of_a_member_with_a_quota_of_two_is_refused_saying_when_the_next_is_possible(
    start_bot: StartBot,
) -> None:
    running = await start_bot(daily_quota=2)
    first_asked = running.clock.time()
    await make_video(running, running.alice)
    await make_video(running, running.alice)

    refusal = await asks(running, running.alice, "video", {"prompt": "a third heron"})

    next_possible = math.ceil(first_asked + DAY_S)
    assert refusal == (
        f"You've made 2 of your 2 videos for today. "
        f"Your next video is possible <t:{next_possible}:R> (at <t:{next_possible}:t>)."
    )
    await make_video(running, running.bob)  # bob's quota is his own


async def test_a_used_up_quota_is_restored_a_day_after_the_first_video(start_bot: StartBot) -> None:
    running = await start_bot(daily_quota=1)
    await make_video(running, running.alice)
    assert (await asks(running, running.alice, "video", {"prompt": "too soon"})).startswith("You've made 1 of your 1")

    running.clock.advance(DAY_S)

    await make_video(running, running.alice, "a day later")


async def test_a_failed_video_does_not_count_against_the_quota(start_bot: StartBot) -> None:
    running = await start_bot(daily_quota=1)
    failing = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "FAIL now"})
    await running.emulator.wait_for(lambda: "Failed" in embed_text(failing.original))

    await make_video(running, running.alice, "this one works")


async def test_quota_shows_used_left_and_when_one_more_frees_up(start_bot: StartBot) -> None:
    running = await start_bot(daily_quota=2)
    first_asked = running.clock.time()
    await make_video(running, running.alice)

    shown = await asks(running, running.alice, "quota")

    frees = math.ceil(first_asked + DAY_S)
    assert "Videos today: **1** of **2** used, **1** left." in shown
    assert f"One more frees up <t:{frees}:R> (at <t:{frees}:t>)." in shown
    assert "**0** of **2** used, **2** left." in await asks(running, running.bob, "quota")


async def test_quota_says_when_the_day_starts_afresh_with_a_reset_hour(start_bot: StartBot) -> None:
    running = await start_bot(daily_quota=1, quota_reset_hour=0)
    await make_video(running, running.alice)

    shown = await asks(running, running.alice, "quota")

    midnight = math.floor(running.clock.time() / DAY_S) * DAY_S + DAY_S
    assert "**1** of **1** used, **0** left." in shown
    assert f"Your next video is possible <t:{midnight}:R>" in shown


async def test_without_a_daily_quota_members_are_told_they_have_no_limit(start_bot: StartBot) -> None:
    running = await start_bot()
    await make_video(running, running.alice)

    assert await asks(running, running.alice, "quota") == "\nYou have no daily limit here."


async def test_history_ends_with_the_members_quota(start_bot: StartBot) -> None:
    running = await start_bot(daily_quota=3)
    await make_video(running, running.alice)

    history = await asks(running, running.alice, "history")

    lines = [line for line in history.splitlines() if line]
    assert lines[0].endswith(" · a heron")
    assert lines[1] == "Videos today: **1** of **3** used, **2** left."


async def test_a_quota_set_by_a_servers_admin_applies_to_the_next_video_and_a_role_perk_raises_it(
    start_bot: StartBot,
) -> None:
    running = await start_bot()
    admin = running.emulator.add_user("admin")
    running.emulator.add_member(running.guild, admin, permissions=MANAGE_GUILD)
    patrons = running.emulator.add_role(running.guild, "Patrons")
    carol = running.emulator.add_user("carol")
    running.emulator.add_member(running.guild, carol, roles=[patrons])
    await make_video(running, running.alice)  # before any rule: no quota

    await asks(running, admin, "videoadmin rules quota", {"videos": 1})
    await asks(running, admin, "videoadmin rules perk", {"role": patrons, "daily_quota": 2})

    assert (await asks(running, running.alice, "video", {"prompt": "one more"})).startswith(
        "You've made 1 of your 1 videos for today."
    )
    await make_video(running, carol)
    await make_video(running, carol)
    assert (await asks(running, carol, "video", {"prompt": "a third"})).startswith(
        "You've made 2 of your 2 videos for today."
    )
