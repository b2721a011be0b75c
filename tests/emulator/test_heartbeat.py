"""The gateway heartbeat is enforced: a silent connection is closed, and discord.py resumes.

The check runs on `pacing`, a FakeClock: a connection is overdue when the test says so, whatever the
machine is doing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.discord_emulator import DiscordEmulator
from tests.emulator.conftest import World
from tests.fakes.clock import FakeClock
from tests.patience import PATIENCE_S

HEARTBEAT = json.dumps({"op": 1, "d": None})


@pytest.fixture
async def socket(paced_emulator: DiscordEmulator) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A bare WebSocket to the gateway that has read HELLO and sends nothing unless told."""
    async with aiohttp.ClientSession() as session, session.ws_connect(paced_emulator.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10
        yield ws


async def _overdue(pacing: FakeClock, seconds: float) -> None:
    """Let `seconds` pass once the emulator's check is waiting on the clock."""
    await pacing.wait_for_sleepers()
    pacing.advance(seconds)


async def test_hello_announces_discords_interval(paced_emulator: DiscordEmulator) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(paced_emulator.gateway_url) as ws:
        hello = await ws.receive_json()
    assert hello == {"op": 10, "d": {"heartbeat_interval": 41_250}}


async def test_a_connection_silent_for_one_and_a_half_intervals_is_closed(
    socket: aiohttp.ClientWebSocketResponse, pacing: FakeClock
) -> None:
    await _overdue(pacing, 61)  # 41.25 s x 1.5 = 61.875 s
    assert pacing.sleepers() == 1  # nothing woke the check: the connection stands
    pacing.advance(1)
    closing = await socket.receive(timeout=PATIENCE_S)
    assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 4000)


async def test_heartbeats_keep_the_connection_open(socket: aiohttp.ClientWebSocketResponse, pacing: FakeClock) -> None:
    for _ in range(3):
        await socket.send_str(HEARTBEAT)
        assert await socket.receive_json() == {"op": 11}
        await _overdue(pacing, 41.25)
    await socket.send_str(HEARTBEAT)
    assert await socket.receive_json() == {"op": 11}  # 165 s on, every beat on time: still open


async def test_a_shorter_interval_is_announced_and_enforced(paced_emulator: DiscordEmulator, pacing: FakeClock) -> None:
    paced_emulator.gateway.heartbeat_interval_ms = 1_000
    async with aiohttp.ClientSession() as session, session.ws_connect(paced_emulator.gateway_url) as ws:
        hello = await ws.receive_json()
        await _overdue(pacing, 1.5)
        closing = await ws.receive(timeout=PATIENCE_S)
    assert hello["d"]["heartbeat_interval"] == 1_000
    assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 4000)


async def test_discord_py_dropped_for_silence_resumes_its_session(paced_world: World, pacing: FakeClock) -> None:
    emulator = paced_world.emulator
    await _overdue(pacing, 62)  # discord.py beat on connecting; its next beat is 41.25 s of real time away
    await emulator.wait_for(lambda: emulator.gateway.resume_count == 1 and emulator.gateway.connected)
    interaction = await emulator.invoke_slash(paced_world.alice, paced_world.channel, "t echo", {"text": "back"})
    await interaction.wait_for_response()
    assert emulator.gateway.identify_count == 1
    assert interaction.original is not None
    assert interaction.original.content == "back"
