"""Injected faults: rate limits, server errors, slow routes, dropped connections and a dropped gateway."""

from __future__ import annotations

import aiohttp
import discord
import pytest

from tests.emulator.conftest import World

MESSAGES = "/channels/{channel_id}/messages"
WEBHOOK = "/webhooks/{webhook_id}/{webhook_token}"


def _channel(world: World) -> discord.TextChannel:
    channel = world.bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    return channel


def _attempts(world: World, route: str) -> list[tuple[int, float]]:
    return [(r.status, r.at) for r in world.emulator.requests if r.route == route]


async def test_rate_limited_request_is_retried_after_retry_after(world: World) -> None:
    world.emulator.faults.rate_limit("POST", MESSAGES, retry_after=0.2)
    await _channel(world).send("patient")
    (first, refused_at), (second, served_at) = _attempts(world, MESSAGES)
    assert (first, second) == (429, 200)
    assert served_at - refused_at >= 0.2
    assert [m.content for m in world.emulator.messages(world.channel)] == ["patient"]


async def test_global_rate_limit_is_retried(world: World) -> None:
    world.emulator.faults.rate_limit("POST", MESSAGES, retry_after=0.1, is_global=True)
    await _channel(world).send("global")
    assert [status for status, _ in _attempts(world, MESSAGES)] == [429, 200]


async def test_rate_limited_follow_up_is_retried(world: World) -> None:
    interaction = await world.emulator.invoke_slash(world.alice, world.channel, "t echo", {"text": "hi"})
    await interaction.wait_for_response()
    world.emulator.faults.rate_limit("POST", WEBHOOK, retry_after=0.1)
    await world.bot.seen[-1].followup.send("after the limit")
    assert [status for status, _ in _attempts(world, WEBHOOK)] == [429, 200]
    assert [m.content for m in interaction.followups] == ["after the limit"]


async def test_server_error_is_retried(world: World) -> None:
    world.emulator.faults.fail("POST", MESSAGES, status=502)
    await _channel(world).send("eventually")
    assert [status for status, _ in _attempts(world, MESSAGES)] == [502, 200]


async def test_delayed_route_answers_late(world: World) -> None:
    world.emulator.faults.delay("POST", MESSAGES, seconds=0.3)
    started = world.emulator.clock.now()
    await _channel(world).send("slow upload")
    assert world.emulator.clock.now() - started >= 0.3


async def test_a_refusal_reaches_the_caller_as_discords_error_code(world: World) -> None:
    world.emulator.faults.refuse("POST", MESSAGES, status=403, code=50013)
    with pytest.raises(discord.Forbidden) as refused:
        await _channel(world).send("not allowed")
    assert refused.value.code == 50013
    assert world.emulator.messages(world.channel) == []


async def test_dropped_connection_reaches_the_caller_as_a_network_error_and_serves_nothing(world: World) -> None:
    world.emulator.faults.drop("POST", MESSAGES)
    with pytest.raises(aiohttp.ClientError):
        await _channel(world).send("lost")
    assert world.emulator.messages(world.channel) == []


async def test_dropped_gateway_resumes_and_replays_missed_events(world: World) -> None:
    await world.emulator.faults.close_gateway()
    interaction = await world.emulator.invoke_slash(world.alice, world.channel, "t echo", {"text": "missed"})
    await interaction.wait_for_response()
    assert world.emulator.gateway.resume_count == 1
    assert world.emulator.gateway.identify_count == 1
    assert "INTERACTION_CREATE" in [dispatch.event for dispatch in world.emulator.gateway.replayed]
    assert interaction.original is not None
    assert interaction.original.content == "missed"


async def test_invalidated_session_identifies_again(world: World) -> None:
    await world.emulator.faults.close_gateway(invalidate_session=True)
    await world.emulator.wait_until_ready()
    assert world.emulator.gateway.identify_count == 2
    interaction = await world.emulator.invoke_slash(world.alice, world.channel, "t echo", {"text": "again"})
    await interaction.wait_for_response()
    assert interaction.original is not None


async def test_a_connection_dropped_after_serving_loses_only_the_answer(world: World) -> None:
    world.emulator.faults.drop("POST", MESSAGES, after_serving=True)
    with pytest.raises(aiohttp.ClientError):
        await _channel(world).send("sent all the same")
    assert [m.content for m in world.emulator.messages(world.channel)] == ["sent all the same"]
    assert [status for status, _ in _attempts(world, MESSAGES)] == [200]  # recorded as Discord served it
