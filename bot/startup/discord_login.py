"""Reaching Discord at start-up: each failure a first run meets becomes one line with its fix.

`check_discord` logs in over REST, reads each of DISCORD_GUILD_IDS' commands and opens the gateway's
WebSocket before the GPU stack loads (seconds to minutes), so a refused token or a wrong id is reported
at once:

- no route to Discord's REST API or gateway (DNS, firewall, proxy), a timeout or a 5xx: a warning line,
  then a retry with backoff (1, 2, 4 … 60 s), for as long as it takes; a service should outlast a
  network outage. `reach_gateway` does the same for the gateway alone, just before the bot connects:
  discord.py retries a gateway it once reached, but not one it never did (it fails on the missing
  socket's `sequence`);
- the token refused (401): `StartupCheckFailed` naming DISCORD_TOKEN;
- a guild id Discord does not know (10004), or one the bot may not manage commands in (403, 50001):
  `StartupCheckFailed` naming DISCORD_GUILD_IDS, with the invite URL where that is the fix.

`explain_sync_failure` words a refused command sync (in `setup_hook`) the same way.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Final, TypeVar

import aiohttp
import discord
import discord.http
import yarl

from bot.discord_io.permissions import invite_url
from bot.settings import Settings
from bot.startup.problems import TOKEN_FIX, StartupCheckFailed, StartupProblem

log = logging.getLogger(__name__)

UNKNOWN_GUILD: Final = 10004
# One attempt may not hang on a black-holed route for the OS's minutes-long connect timeout.
ATTEMPT_TIMEOUT_S: Final = 30.0
NETWORK_FIX: Final = (
    "check this machine's network and DNS (in Docker, the container's), any proxy or firewall, DISCORD_API_URL "
    "and DISCORD_GATEWAY_URL"
)
# What a failed attempt raises when Discord cannot be reached or is failing, rather than refusing.
_TRANSIENT: Final = (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordServerError)

Sleep = Callable[[float], Awaitable[object]]
T = TypeVar("T")


@dataclass(frozen=True)
class DiscordIdentity:
    """Who the token logs in as."""

    application_id: int
    bot_name: str


def backoff_delays(first_s: float = 1.0, cap_s: float = 60.0) -> Iterator[float]:
    """Seconds to wait before each retry: doubling from `first_s`, then `cap_s` for ever."""
    delay = first_s
    while True:
        yield delay
        delay = min(delay * 2, cap_s)


async def check_discord(settings: Settings, *, sleep: Sleep = asyncio.sleep) -> DiscordIdentity:
    """Log in with the token, check every guild of DISCORD_GUILD_IDS and open the gateway, retrying while
    Discord is out of reach.

    Raises `StartupCheckFailed` for what only the operator can fix; returns once everything checked out.
    """
    check = functools.partial(_check_rest, settings)
    identity = await _retrying(settings.discord_api_url, check, sleep)
    await reach_gateway(settings.discord_gateway_url, sleep=sleep)
    log.info("logged in to Discord as %s; invite link: %s", identity.bot_name, invite_url(identity.application_id))
    return identity


async def reach_gateway(url: str, *, sleep: Sleep = asyncio.sleep) -> None:
    """Until a WebSocket opens at the gateway `url` (and is closed again at once), retrying with backoff."""
    await _retrying(url, functools.partial(_open_gateway, url), sleep)


async def _retrying(target: str, attempt: Callable[[], Awaitable[T]], sleep: Sleep) -> T:
    """`attempt()`'s result, retried with backoff (a warning each time) while Discord cannot be reached."""
    delays = backoff_delays()
    number = 0
    while True:
        number += 1
        try:
            async with asyncio.timeout(ATTEMPT_TIMEOUT_S):
                return await attempt()
        except _TRANSIENT as error:
            delay = next(delays)
            log.warning(
                "Cannot reach Discord at %s: %s. Retrying in %g s (attempt %d). Fix, if it persists: %s.",
                target, _reason(error), delay, number, NETWORK_FIX,
            )  # fmt: skip
        await sleep(delay)


async def _open_gateway(url: str) -> None:
    # The query discord.py sends; Discord answers the upgrade, then would send HELLO.
    query = yarl.URL(url).update_query(v=10, encoding="json")
    async with aiohttp.ClientSession() as session, session.ws_connect(query):
        pass


async def _check_rest(settings: Settings) -> DiscordIdentity:
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        return await _check_once(http, settings)
    finally:
        await http.close()


def explain_sync_failure(error: discord.HTTPException, guild_id: int, application_id: int) -> StartupProblem:
    """A command sync refused for `guild_id`, as the problem to report (unknown guild, or no access)."""
    answer = f"HTTP {error.status}, code {error.code}: {error.text}"
    if error.code == UNKNOWN_GUILD:
        message = (
            f"DISCORD_GUILD_IDS lists {guild_id}, which is not a server Discord knows ({answer}): "
            "is it a channel's or a user's id?"
        )
        fix = (
            "set DISCORD_GUILD_IDS to your server's id: turn on Developer Mode (User Settings → Advanced), "
            "then right-click the server's icon → Copy Server ID"
        )
        return StartupProblem("DISCORD_GUILD_IDS", message, fix, fatal=True)
    message = (
        f"DISCORD_GUILD_IDS lists {guild_id}, but Discord does not let this bot manage commands there ({answer}): "
        "the bot is not in that server, or was invited without the applications.commands scope."
    )
    fix = f"invite it with {invite_url(application_id)}, or take {guild_id} out of DISCORD_GUILD_IDS"
    return StartupProblem("DISCORD_GUILD_IDS", message, fix, fatal=True)


async def _check_once(http: discord.http.HTTPClient, settings: Settings) -> DiscordIdentity:
    try:
        me = await http.static_login(settings.discord_token.get_secret_value())
    except discord.LoginFailure:
        message = "DISCORD_TOKEN was refused by Discord (401 Unauthorized): it was reset, or is another bot's."
        raise StartupCheckFailed([StartupProblem("DISCORD_TOKEN", message, TOKEN_FIX, fatal=True)]) from None
    application_id = int((await http.application_info())["id"])
    for guild_id in settings.discord_guild_ids:
        try:
            # Reading a guild's commands takes the same access as syncing them, and changes nothing.
            await http.get_guild_commands(application_id, guild_id)
        except (discord.NotFound, discord.Forbidden) as error:
            raise StartupCheckFailed([explain_sync_failure(error, guild_id, application_id)]) from None
    return DiscordIdentity(application_id, me["username"])


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {ATTEMPT_TIMEOUT_S:g} s"
    return str(error) or type(error).__name__
