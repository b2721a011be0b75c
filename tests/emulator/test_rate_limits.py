"""Discord's rate limits, counted and answered by the emulator itself.

Windows run on `pacing`, a FakeClock: nothing here depends on how fast requests go out, and a window
ends only when the test moves the clock. The discord.py tests still last one real window (5 s),
because the client sleeps what the headers tell it, for real.
"""

from __future__ import annotations

import asyncio

import discord

from tests.discord_emulator import Channel, DiscordEmulator, Interaction
from tests.emulator.conftest import World
from tests.emulator.rawbot import Answer, raw_bot
from tests.fakes.clock import FakeClock

MESSAGES = "/channels/{channel_id}/messages"


def _bucket(answer: Answer) -> tuple[str | None, ...]:
    """(limit, remaining, reset-after), as the reply's headers give them."""
    return tuple(answer.headers.get(f"X-RateLimit-{name}") for name in ("Limit", "Remaining", "Reset-After"))


def _channel(emulator: DiscordEmulator, name: str = "general") -> Channel:
    return emulator.add_channel(emulator.add_guild("home"), name)


async def _answered(world: World, text: str) -> Interaction:
    """An interaction TinyBot has answered, so its webhook is open."""
    interaction = await world.emulator.invoke_slash(world.alice, world.channel, "t echo", {"text": text})
    await interaction.wait_for_response()
    return interaction


def _webhook(world: World, interaction: Interaction) -> str:
    return f"/webhooks/{world.emulator.application_id}/{interaction.token}"


def _text_channel(world: World) -> discord.TextChannel:
    channel = world.bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_each_reply_says_how_much_of_the_window_is_left(
    paced_emulator: DiscordEmulator, pacing: FakeClock
) -> None:
    channel = _channel(paced_emulator)
    async with raw_bot(paced_emulator) as bot:
        first = await bot.post(channel.id, "1")
        pacing.advance(2)
        later = [await bot.post(channel.id, str(n)) for n in range(2, 6)]
    assert [_bucket(answer) for answer in [first, *later]] == [
        ("5", "4", "5.000"),  # the window opens at the first request...
        ("5", "3", "3.000"),  # ...and closes five seconds after it, however the rest are spread
        ("5", "2", "3.000"),
        ("5", "1", "3.000"),
        ("5", "0", "3.000"),
    ]
    assert len({answer.headers["X-RateLimit-Bucket"] for answer in [first, *later]}) == 1


async def test_the_sixth_message_in_five_seconds_gets_discords_429(paced_emulator: DiscordEmulator) -> None:
    channel = _channel(paced_emulator)
    async with raw_bot(paced_emulator) as bot:
        for n in range(5):
            await bot.post(channel.id, f"m{n}")
        before = paced_emulator.clock.utcnow().timestamp()
        refused = await bot.post(channel.id, "one too many")
        after = paced_emulator.clock.utcnow().timestamp()
    assert refused.status == 429
    assert refused.body == {"message": "You are being rate limited.", "code": 0, "retry_after": 5.0, "global": False}
    assert _bucket(refused) == ("5", "0", "5.000")
    assert (refused.headers["Retry-After"], refused.headers["X-RateLimit-Scope"], refused.headers["Via"]) == (
        "5",
        "user",
        "1.1 google",
    )
    assert before + 5 <= float(refused.headers["X-RateLimit-Reset"]) <= after + 5.001
    assert "X-RateLimit-Global" not in refused.headers
    assert [m.content for m in paced_emulator.messages(channel)] == [f"m{n}" for n in range(5)]


async def test_the_window_reopens_five_seconds_after_it_opened(
    paced_emulator: DiscordEmulator, pacing: FakeClock
) -> None:
    channel = _channel(paced_emulator)
    async with raw_bot(paced_emulator) as bot:
        for n in range(5):
            await bot.post(channel.id, f"m{n}")
        pacing.advance(4)
        still_refused = await bot.post(channel.id, "early")
        pacing.advance(1)
        admitted = await bot.post(channel.id, "on time")
    assert (still_refused.status, still_refused.body["retry_after"]) == (429, 1.0)
    assert (admitted.status, _bucket(admitted)) == (200, ("5", "4", "5.000"))


async def test_each_channel_has_its_own_bucket(paced_emulator: DiscordEmulator) -> None:
    busy, quiet = _channel(paced_emulator, "busy"), _channel(paced_emulator, "quiet")
    async with raw_bot(paced_emulator) as bot:
        for n in range(5):
            await bot.post(busy.id, f"m{n}")
        elsewhere = await bot.post(quiet.id, "fine")
        here = await bot.post(busy.id, "refused")
    assert (elsewhere.status, here.status) == (200, 429)


async def test_edits_have_a_bucket_of_their_own_of_five_per_five_seconds(paced_emulator: DiscordEmulator) -> None:
    channel = _channel(paced_emulator)
    async with raw_bot(paced_emulator) as bot:
        posted = [await bot.post(channel.id, f"m{n}") for n in range(5)]
        path = f"/channels/{channel.id}/messages/{posted[0].body['id']}"
        edits = [await bot.request("PATCH", path, {"content": f"edit {n}"}) for n in range(6)]
    assert [answer.status for answer in edits] == [200] * 5 + [429]
    assert edits[0].headers["X-RateLimit-Bucket"] != posted[0].headers["X-RateLimit-Bucket"]


async def test_the_51st_bot_request_in_a_second_hits_the_global_limit(
    paced_emulator: DiscordEmulator, pacing: FakeClock
) -> None:
    guild = paced_emulator.add_guild("home")
    channels = [paced_emulator.add_channel(guild, f"c{n}") for n in range(11)]
    async with raw_bot(paced_emulator) as bot:
        spread = [await bot.request("GET", f"/channels/{channels[n % 10].id}") for n in range(50)]
        refused = await bot.request("GET", f"/channels/{channels[10].id}")
        pacing.advance(1)
        admitted = await bot.request("GET", f"/channels/{channels[10].id}")
    assert {answer.status for answer in spread} == {200}
    assert refused.status == 429
    assert (refused.body["global"], refused.body["retry_after"]) == (True, 1.0)
    assert (refused.headers["X-RateLimit-Scope"], refused.headers["X-RateLimit-Global"]) == ("global", "true")
    assert "X-RateLimit-Bucket" not in refused.headers
    assert admitted.status == 200


async def test_interaction_routes_are_not_bound_by_the_global_limit(paced_world: World) -> None:
    interaction = await _answered(paced_world, "first")
    routes = ["/users/@me", "/gateway", f"/channels/{paced_world.channel.id}"]
    async with raw_bot(paced_world.emulator) as bot:
        for n in range(51):  # the bot's log-in took a few of the 50 already
            spent = await bot.request("GET", routes[n % 3])
            if spent.status == 429:
                break
        follow_up = await bot.request("POST", _webhook(paced_world, interaction) + "?wait=true", {"content": "f"})
    assert (spent.status, spent.body["global"]) == (429, True)
    assert follow_up.status == 200
    answered = await _answered(paced_world, "second")  # discord.py's callback goes through too
    assert answered.original is not None
    assert answered.original.content == "second"


async def test_an_interactions_follow_ups_and_edits_share_one_bucket(paced_world: World, pacing: FakeClock) -> None:
    webhook = _webhook(paced_world, await _answered(paced_world, "hi"))
    async with raw_bot(paced_world.emulator) as bot:
        first = await bot.request("POST", webhook + "?wait=true", {"content": "follow-up 1"})
        second = await bot.request("POST", webhook + "?wait=true", {"content": "follow-up 2"})
        rest = [
            await bot.request("PATCH", webhook + "/messages/@original", {"content": "edited"}),
            await bot.request("PATCH", f"{webhook}/messages/{first.body['id']}", {"content": "edited 1"}),
            await bot.request("DELETE", f"{webhook}/messages/{second.body['id']}"),
        ]
        refused = await bot.request("PATCH", webhook + "/messages/@original", {"content": "again"})
        pacing.advance(5)
        admitted = await bot.request("PATCH", webhook + "/messages/@original", {"content": "again"})
    shared = [first, second, *rest]
    assert [answer.status for answer in shared] == [200, 200, 200, 200, 204]
    assert [_bucket(answer) for answer in shared] == [("5", str(4 - n), "5.000") for n in range(5)]
    assert (refused.status, refused.headers["X-RateLimit-Scope"]) == (429, "user")
    assert admitted.status == 200


async def test_each_interaction_has_its_own_webhook_bucket(paced_world: World) -> None:
    busy = _webhook(paced_world, await _answered(paced_world, "busy"))
    quiet = _webhook(paced_world, await _answered(paced_world, "quiet"))
    async with raw_bot(paced_world.emulator) as bot:
        for n in range(5):
            await bot.request("PATCH", busy + "/messages/@original", {"content": f"edit {n}"})
        elsewhere = await bot.request("PATCH", quiet + "/messages/@original", {"content": "fine"})
        here = await bot.request("PATCH", busy + "/messages/@original", {"content": "refused"})
    assert (elsewhere.status, here.status) == (200, 429)


async def test_discord_py_waits_out_a_spent_bucket_and_every_message_lands(
    paced_world: World, pacing: FakeClock
) -> None:
    emulator, channel = paced_world.emulator, _text_channel(paced_world)
    sends = [asyncio.create_task(channel.send(f"m{n}")) for n in range(7)]
    await emulator.wait_for(lambda: len(emulator.messages(paced_world.channel)) == 5)
    pacing.advance(5)  # the window discord.py is waiting out ends
    await asyncio.gather(*sends)
    assert sorted(m.content for m in emulator.messages(paced_world.channel)) == [f"m{n}" for n in range(7)]


async def test_discord_py_refused_by_a_bucket_it_did_not_know_was_spent_retries_and_lands(
    paced_world: World, pacing: FakeClock
) -> None:
    emulator = paced_world.emulator
    async with raw_bot(emulator) as bot:
        for n in range(5):
            await bot.post(paced_world.channel.id, f"elsewhere {n}")
    send = asyncio.create_task(_text_channel(paced_world).send("patient"))
    await emulator.wait_for(lambda: any(request.status == 429 for request in emulator.requests))
    pacing.advance(5)
    await send
    assert [request.status for request in emulator.requests if request.route == MESSAGES] == [200] * 5 + [429, 200]
    assert emulator.messages(paced_world.channel)[-1].content == "patient"


async def test_discord_py_paces_follow_ups_to_the_interaction_bucket(paced_world: World, pacing: FakeClock) -> None:
    interaction = await _answered(paced_world, "hi")
    client_side = paced_world.bot.seen[-1]
    sends = [asyncio.create_task(client_side.followup.send(f"f{n}")) for n in range(7)]
    await paced_world.emulator.wait_for(lambda: len(interaction.followups) == 5)
    pacing.advance(5)
    await asyncio.gather(*sends)
    assert sorted(message.content for message in interaction.followups) == [f"f{n}" for n in range(7)]
