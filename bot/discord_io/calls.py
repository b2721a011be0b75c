"""How the bot treats a failed Discord call: what counts as a failure, which ones may pass, and retrying.

Every call to Discord can fail with an answer that refuses (`discord.HTTPException`: 4xx for good,
5xx/429 for now) or with no answer at all (discord.py passes a dropped connection or a timeout through
as aiohttp's or the OS's own error). Transient failures are retried with backoff where the caller
cannot let the call go (an upload, a final status, an outcome after a restart); refusals are not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import aiohttp
import discord

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_DELAYS_S: Final = (1.0, 2.0, 4.0)
"""Seconds before each retry of a call that must get through."""

DISCORD_FAILURES: Final = (discord.HTTPException, aiohttp.ClientError, TimeoutError)
"""What a failed Discord call raises: an answer that refuses, or none at all."""


def transient(error: BaseException) -> bool:
    """True for a Discord failure that may pass (5xx, 429, a dropped connection), false for a refusal."""
    if isinstance(error, discord.HTTPException):
        return error.status >= 500 or error.status == 429
    return isinstance(error, aiohttp.ClientError | TimeoutError)


async def with_retries(operation: Callable[[], Awaitable[T]], what: str, delays: tuple[float, ...]) -> T:
    """Run `operation`, retrying transient Discord failures after each of `delays` seconds."""
    for delay in (*delays, None):
        try:
            return await operation()
        except DISCORD_FAILURES as error:
            if delay is None or not transient(error):
                raise
            log.warning("%s failed (%s); retrying in %.0f s", what, describe(error), delay)
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def describe(error: BaseException) -> str:
    """A Discord failure in a few words for the log: its HTTP status, or the kind of network error."""
    return f"HTTP {error.status}" if isinstance(error, discord.HTTPException) else type(error).__name__
