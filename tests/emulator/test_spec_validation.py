"""Request and response bodies are checked against Discord's OpenAPI description."""

from __future__ import annotations

import aiohttp

from tests.discord_emulator import DiscordEmulator, ViolationKind
from tests.discord_emulator.openapi import load_spec


async def test_request_body_against_the_spec_is_a_violation(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("home")
    channel = discord_emulator.add_channel(guild)
    headers = {"Authorization": f"Bot {discord_emulator.bot_token}"}
    url = f"{discord_emulator.api_url}/channels/{channel.id}/messages"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"content": 42}, headers=headers) as response,
    ):
        status, body = response.status, await response.json()
        content_type = response.headers["Content-Type"]
    assert (status, body["code"], content_type) == (400, 50035, "application/json")
    assert [v.kind for v in discord_emulator.violations] == [ViolationKind.REQUEST_SCHEMA]
    assert "content" in discord_emulator.violations[0].detail
    discord_emulator.violations.clear()


async def test_unknown_route_is_a_json_404_and_reported(discord_emulator: DiscordEmulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{discord_emulator.api_url}/guilds/1/audit-logs") as response,
    ):
        status, body = response.status, await response.json()
    assert (status, body) == (404, {"message": "404: Not Found", "code": 0})
    assert "not emulated" in discord_emulator.violations[0].detail
    discord_emulator.violations.clear()


async def test_missing_bot_token_is_refused(discord_emulator: DiscordEmulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{discord_emulator.api_url}/users/@me") as response,
    ):
        assert response.status == 401


def test_response_missing_a_required_field_is_caught() -> None:
    spec = load_spec()
    problems = spec.response_problems("GET", "/users/@me", 200, {"id": "1", "username": "bot"})
    assert any("discriminator" in problem.message for problem in problems)


def test_response_with_integer_snowflake_is_caught() -> None:
    spec = load_spec()
    problems = spec.response_problems("GET", "/channels/{channel_id}", 200, {"id": 1, "type": 0})
    assert problems


def test_requests_may_send_snowflakes_as_integers() -> None:
    spec = load_spec()
    body = {"content": "x", "attachments": [{"id": 0, "filename": "a.mp4"}]}
    assert spec.request_problems("POST", "/channels/{channel_id}/messages", body) == []


async def test_attachment_pointing_at_no_uploaded_file_is_a_violation(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("home")
    channel = discord_emulator.add_channel(guild)
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("payload_json", '{"content": "x", "attachments": [{"id": 1, "filename": "a.mp4"}]}')
    form.add_field("files[0]", b"data", filename="a.mp4")
    headers = {"Authorization": f"Bot {discord_emulator.bot_token}"}
    url = f"{discord_emulator.api_url}/channels/{channel.id}/messages"
    async with aiohttp.ClientSession() as session, session.post(url, data=form, headers=headers) as response:
        assert response.status == 400
    assert "files[1]" in discord_emulator.violations[0].detail
    discord_emulator.violations.clear()


async def test_multipart_payload_json_and_files_are_recorded(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("home")
    channel = discord_emulator.add_channel(guild)
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("payload_json", '{"content": "clip", "attachments": [{"id": 0, "filename": "a.mp4"}]}')
    form.add_field("files[0]", b"12345", filename="a.mp4", content_type="application/octet-stream")
    headers = {"Authorization": f"Bot {discord_emulator.bot_token}"}
    url = f"{discord_emulator.api_url}/channels/{channel.id}/messages"
    async with aiohttp.ClientSession() as session, session.post(url, data=form, headers=headers) as response:
        assert response.status == 200
    [request] = discord_emulator.requests
    assert request.body["content"] == "clip"
    assert [(f.field, f.filename, f.size) for f in request.files] == [("files[0]", "a.mp4", 5)]
    [message] = discord_emulator.messages(channel)
    assert (message.attachments[0].data, message.attachments[0].content_type) == (b"12345", "video/mp4")
