"""A bare REST client that speaks as the bot, for the rules discord.py would hide (it paces itself)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.discord_emulator import DiscordEmulator


@dataclass(frozen=True)
class Answer:
    """What the emulator answered: status, headers and the JSON body (None when empty)."""

    status: int
    headers: Mapping[str, str]
    body: Any


class RawBot:
    """Sends requests with the bot's token (or, for interaction routes, none) and reads the answers."""

    def __init__(self, session: aiohttp.ClientSession, emulator: DiscordEmulator) -> None:
        self._session = session
        self._emulator = emulator

    async def request(self, method: str, path: str, body: Any = None) -> Answer:
        """`method` on `path` (after `/api/v10`) with an optional JSON body."""
        headers = {"Authorization": f"Bot {self._emulator.bot_token}"}
        url = self._emulator.api_url + path
        async with self._session.request(method, url, json=body, headers=headers) as response:
            text = await response.text()
            answer = await response.json() if text else None
            return Answer(response.status, response.headers, answer)

    async def post(self, channel_id: int, content: str) -> Answer:
        """Post `content` in a channel."""
        return await self.request("POST", f"/channels/{channel_id}/messages", {"content": content})


@contextlib.asynccontextmanager
async def raw_bot(emulator: DiscordEmulator) -> AsyncIterator[RawBot]:
    """A `RawBot` for `emulator`, with its HTTP session open for the block."""
    async with aiohttp.ClientSession() as session:
        yield RawBot(session, emulator)
