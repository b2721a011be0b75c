"""What a first run meets at Discord, each ending in one clear line with its fix: a refused token, a
wrong guild id, a refused command sync; and no route to Discord, which is retried and said so."""

from __future__ import annotations

import logging
import signal
import socket
from pathlib import Path

import pytest
from aiohttp import web

from bot.discord_io.permissions import invite_url
from bot.startup.client import VideoBot
from bot.startup.discord_login import NETWORK_FIX, DiscordIdentity, backoff_delays, check_discord, reach_gateway
from bot.startup.problems import EXIT_CONFIG, TOKEN_FIX, StartupCheckFailed
from generation.queue.local import LocalJobQueue
from tests.discord_emulator import DiscordEmulator
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import bot_settings
from tests.ops.entry_points import TOKEN, clean_environment, finish, read_until, run_module_async, start_module

GPU_STACK = {"torch", "diffusers"}


def bot_environment(emulator: DiscordEmulator, **variables: str) -> dict[str, str]:
    """The environment of a bot process that talks to `emulator` and runs on the CPU."""
    talks_to_emulator = {
        "DISCORD_TOKEN": emulator.bot_token,
        "DISCORD_API_URL": emulator.api_url,
        "DISCORD_GATEWAY_URL": emulator.gateway_url,
        "DEVICE": "cpu",
    }
    return clean_environment(**(talks_to_emulator | variables))


def closed_port() -> int:
    """A local port nothing listens on: connecting is refused, as with no route to a host."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        return int(server.getsockname()[1])


async def test_a_token_discord_refuses_is_one_line_with_the_fix_and_exit_78(
    discord_emulator: DiscordEmulator, tmp_path: Path
) -> None:
    env = bot_environment(discord_emulator, DISCORD_TOKEN=TOKEN)

    done = await run_module_async("bot", cwd=tmp_path, env=env)

    assert done.status == EXIT_CONFIG
    (line,) = done.stderr_lines
    assert line.endswith(
        " ERROR    bot: DISCORD_TOKEN was refused by Discord (401 Unauthorized): it was reset, or is another "
        f"bot's. Fix: {TOKEN_FIX}."
    )
    assert not done.imported & GPU_STACK


async def test_a_guild_id_discord_does_not_know_is_one_line_with_the_fix_and_exit_78(
    discord_emulator: DiscordEmulator, tmp_path: Path
) -> None:
    guild = discord_emulator.add_guild("home")
    channel = discord_emulator.add_channel(guild, "general")
    env = bot_environment(discord_emulator, DISCORD_GUILD_IDS=str(channel.id))

    done = await run_module_async("bot", cwd=tmp_path, env=env)

    assert done.status == EXIT_CONFIG
    (line,) = done.stderr_lines
    assert line.endswith(
        f" ERROR    bot: DISCORD_GUILD_IDS lists {channel.id}, which is not a server Discord knows (HTTP 404, "
        "code 10004: Unknown Guild): is it a channel's or a user's id? Fix: set DISCORD_GUILD_IDS to your "
        "server's id: turn on Developer Mode (User Settings → Advanced), then right-click the server's icon → "
        "Copy Server ID."
    )
    assert not done.imported & GPU_STACK


async def test_a_configured_bot_logs_in_syncs_its_commands_and_stops_cleanly(
    discord_emulator: DiscordEmulator, tmp_path: Path, tiny_model_dir: Path
) -> None:
    guild = discord_emulator.add_guild("home")
    env = bot_environment(
        discord_emulator, DISCORD_GUILD_IDS=str(guild.id), MODEL_ID=str(tiny_model_dir), SHUTDOWN_GRACE_S="1"
    )
    process = await start_module("bot", cwd=tmp_path, env=env)

    lines = await read_until(process, " synced ")
    process.send_signal(signal.SIGTERM)
    _, rest = await finish(process)

    assert process.returncode == 0, "".join(lines) + rest.decode()
    assert any(
        f"logged in to Discord as videobot; invite link: {invite_url(discord_emulator.application_id)}" in line
        for line in lines
    )
    assert lines[-1].rstrip().endswith(f"synced 6 commands to guild_id={guild.id}")
    assert "Traceback" not in "".join(lines) + rest.decode()


async def test_no_route_to_discord_is_retried_with_backoff_and_said_so_until_stopped(tmp_path: Path) -> None:
    api_url = f"http://127.0.0.1:{closed_port()}/api/v10"
    env = clean_environment(DISCORD_TOKEN=TOKEN, DISCORD_API_URL=api_url, DEVICE="cpu")
    process = await start_module("bot", cwd=tmp_path, env=env)

    line = (await read_until(process, "Cannot reach Discord"))[-1]
    process.send_signal(signal.SIGTERM)
    _, rest = await finish(process)

    assert process.returncode == 0
    assert f" WARNING  bot.startup.discord_login: Cannot reach Discord at {api_url}: Cannot connect to host " in line
    assert line.rstrip().endswith(f"Retrying in 1 s (attempt 1). Fix, if it persists: {NETWORK_FIX}.")
    assert "Traceback" not in rest.decode()


async def test_discord_unavailable_is_retried_after_a_pause_and_then_logs_in(
    discord_client_endpoints: DiscordEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = discord_client_endpoints
    emulator.faults.fail("GET", "/users/@me", status=503)
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    with caplog.at_level(logging.WARNING, logger="bot.startup.discord_login"):
        identity = await check_discord(bot_settings(emulator, tmp_path, []), sleep=pause)

    assert identity == DiscordIdentity(emulator.application_id, emulator.bot_user.username)
    assert pauses == [1.0]
    assert [record.getMessage().split(":")[0] for record in caplog.records] == ["Cannot reach Discord at http"]


def test_retries_back_off_doubling_up_to_a_minute() -> None:
    delays = backoff_delays()

    assert [next(delays) for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


async def test_a_command_sync_discord_refuses_names_the_guild_and_the_invite_that_fixes_it(
    discord_client_endpoints: DiscordEmulator, tmp_path: Path
) -> None:
    emulator = discord_client_endpoints
    guild = emulator.add_guild("home")
    emulator.faults.refuse("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", code=50001)
    settings = bot_settings(emulator, tmp_path, [guild])
    bot = VideoBot(settings, LocalJobQueue(settings, settings, FakeGenerator()))

    with pytest.raises(StartupCheckFailed) as failure:
        await bot.login(emulator.bot_token)
    await bot.close()

    (problem,) = failure.value.problems
    assert problem.line() == (
        f"DISCORD_GUILD_IDS lists {guild.id}, but Discord does not let this bot manage commands there (HTTP 403, "
        "code 50001: Refused by an injected fault): the bot is not in that server, or was invited without the "
        f"applications.commands scope. Fix: invite it with {invite_url(emulator.application_id)}, or take "
        f"{guild.id} out of DISCORD_GUILD_IDS."
    )


def test_the_invite_asks_for_the_scopes_and_permissions_the_bot_needs() -> None:
    assert invite_url(1234) == (
        "https://discord.com/oauth2/authorize?client_id=1234&scope=bot+applications.commands&permissions=274878024704"
    )


async def test_a_gateway_out_of_reach_is_retried_with_backoff_and_said_so_until_stopped(
    discord_emulator: DiscordEmulator, tmp_path: Path
) -> None:
    gateway_url = f"ws://127.0.0.1:{closed_port()}/gateway"
    env = bot_environment(discord_emulator, DISCORD_GATEWAY_URL=gateway_url)
    process = await start_module("bot", cwd=tmp_path, env=env)

    line = (await read_until(process, "Cannot reach Discord"))[-1]
    process.send_signal(signal.SIGTERM)
    _, rest = await finish(process)

    assert process.returncode == 0, rest.decode()
    assert (
        f" WARNING  bot.startup.discord_login: Cannot reach Discord at {gateway_url}: Cannot connect to host " in line
    )
    assert line.rstrip().endswith(f"Retrying in 1 s (attempt 1). Fix, if it persists: {NETWORK_FIX}.")
    assert "Traceback" not in rest.decode()


async def test_a_gateway_that_comes_up_after_a_retry_is_reached(tmp_path: Path) -> None:
    port = closed_port()
    pauses: list[float] = []
    opened: list[str] = []

    async def gateway(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        opened.append(request.query_string)
        return socket

    app = web.Application()
    app.router.add_get("/gateway", gateway)
    runner = web.AppRunner(app)
    await runner.setup()

    async def pause(seconds: float) -> None:
        pauses.append(seconds)
        await web.TCPSite(runner, "127.0.0.1", port).start()  # the gateway is back

    try:
        await reach_gateway(f"ws://127.0.0.1:{port}/gateway", sleep=pause)
    finally:
        await runner.cleanup()

    assert pauses == [1.0]
    assert opened == ["v=10&encoding=json"]
