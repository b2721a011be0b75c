"""The status message's seam: callers say what to show; it picks the route and says how it went."""

from __future__ import annotations

import io

import discord

from bot.delivery.job_context import JobContext
from bot.delivery.status_message import DEFAULT_UPLOAD_LIMIT, FileMaker, StatusChange, StatusMessage
from tests.fixtures.bot import RunningBot, StartBot

TOKEN_LIFE_S = 15 * 60


class BytesUpload:
    """An `Upload` of fixed bytes that records the size limits it was asked to fit."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.budgets: list[int] = []

    async def fit(self, budget_bytes: int) -> FileMaker:
        self.budgets.append(budget_bytes)
        return lambda: discord.File(io.BytesIO(self.data), filename="video-1.mp4")


def _status(running: RunningBot, message_id: int | None) -> StatusMessage:
    """A status message for alice whose interaction token is long spent."""
    assert running.bot.application_id is not None
    context = JobContext(
        user_id=running.alice.id,
        channel_id=running.channel.id,
        guild_id=running.guild.id,
        application_id=running.bot.application_id,
        interaction_token="spent",
        interaction_created_at=running.clock.time() - 2 * TOKEN_LIFE_S,
        attachment_size_limit=DEFAULT_UPLOAD_LIMIT,
        status_message_id=message_id,
    )
    return StatusMessage(running.bot, context, running.clock)


async def _old_status(running: RunningBot) -> int:
    message = await running.bot.get_partial_messageable(running.channel.id).send("⏳ Queued")
    return message.id


async def test_an_upload_the_spent_token_cannot_carry_is_reposted_at_the_channel_limit_and_the_old_message_deleted(
    start_bot: StartBot,
) -> None:
    running = await start_bot()
    status = _status(running, await _old_status(running))
    upload = BytesUpload(b"an mp4")

    change = await status.show(
        content=f"<@{running.alice.id}> your video is ready.",
        embed=discord.Embed(title="✅ Done"),
        view=None,
        upload=upload,
        channel_upload_limit=25 * 2**20,
        retry_delays=(),
    )

    assert change is StatusChange.REPOSTED
    assert upload.budgets == [25 * 2**20]
    [shown] = running.emulator.messages(running.channel)
    assert shown.content == f"<@{running.alice.id}> your video is ready."
    assert [(a.filename, a.data) for a in shown.attachments] == [("video-1.mp4", b"an mp4")]
    assert status.message_id == shown.id


async def test_an_outcome_without_a_file_is_edited_in_place_through_the_channel_once_the_token_is_spent(
    start_bot: StartBot,
) -> None:
    running = await start_bot()
    old = await _old_status(running)
    status = _status(running, old)

    change = await status.show(content="unused", embed=discord.Embed(title="⚠️ Failed"), view=None, retry_delays=())

    assert change is StatusChange.EDITED
    [shown] = running.emulator.messages(running.channel)
    assert shown.id == old
    assert [embed["title"] for embed in shown.embeds] == ["⚠️ Failed"]


async def test_an_outcome_with_no_status_message_is_posted_pinging_the_requester(start_bot: StartBot) -> None:
    running = await start_bot()
    status = _status(running, None)

    change = await status.show(
        content=f"<@{running.alice.id}>", embed=discord.Embed(title="🚫 Cancelled"), view=None, retry_delays=()
    )

    assert change is StatusChange.POSTED
    [shown] = running.emulator.messages(running.channel)
    assert shown.content == f"<@{running.alice.id}>"
    assert status.message_id == shown.id
