"""Getting the video to the user: under the upload limit, past the token's life, through Discord errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from generation.results import GeneratedClip
from tests.discord_emulator import DiscordEmulator
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import StartBot, decode_mp4, embed_text, ephemeral_reply, finished, has_video
from tests.patience import PATIENCE_S

MiB = 2**20
WEBHOOK_MESSAGE = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
VIEW, SEND, EMBED, ATTACH, HISTORY = 1 << 10, 1 << 11, 1 << 14, 1 << 15, 1 << 16


class NoiseGenerator(FakeGenerator):
    """Frames of pure noise: the worst case for a video encoder, so the MP4 comes out huge."""

    def finish(self, clip: GeneratedClip) -> GeneratedClip:
        noise = np.random.default_rng(clip.seed).integers(0, 256, clip.frames.shape, dtype=np.uint8)
        return dataclasses.replace(clip, frames=noise)


async def test_a_20_mib_video_is_re_encoded_to_fit_a_10_mib_guild(start_bot: StartBot) -> None:
    running = await start_bot(NoiseGenerator(), max_frames=64, video_sizes=["big:704x704"])
    assert running.guild.attachment_size_limit == 10 * MiB
    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "static -steps 1 -frames 64"}
    )

    message = await finished(running.emulator, interaction, within=3 * PATIENCE_S)

    produced = max(path.stat().st_size for path in running.settings.output_dir.glob("*.mp4"))
    assert produced > 20 * MiB
    uploaded = message.attachments[0].data
    assert len(uploaded) <= 10 * MiB
    codec, pix_fmt, frames, _, _ = decode_mp4(uploaded)
    assert (codec, pix_fmt, frames) == ("h264", "yuv420p", 64)
    await running.bot.following.wait_until_settled()  # the shrunk copy is removed once Discord has answered the upload
    outputs = running.settings.output_dir
    [job] = await running.queue.history()
    assert [path.name for path in outputs.glob("*.mp4")] == [f"{job.job_id}.mp4"]


async def test_an_expired_token_falls_back_to_a_channel_message_that_pings_only_the_requester(
    start_bot: StartBot,
) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator)
    emulator = running.emulator
    interaction = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "late -steps 10"})
    await interaction.wait_for_response()

    emulator.expire_interaction(interaction)
    generator.steps.open()

    posted = await emulator.wait_for_message(channel_id=running.channel.id, predicate=has_video)
    assert posted.interaction_id is None
    assert f"<@{running.alice.id}>" in posted.content
    pings = emulator.pings(posted)
    assert pings.users == frozenset({running.alice.id})
    assert not pings.everyone
    assert not pings.roles
    await emulator.wait_for(lambda: interaction.original is None or interaction.original.deleted)


async def test_uploads_survive_a_server_error_and_a_rate_limit(start_bot: StartBot) -> None:
    running = await start_bot()
    emulator = running.emulator
    emulator.faults.rate_limit("PATCH", WEBHOOK_MESSAGE, retry_after=0.2, times=2)
    emulator.faults.fail("PATCH", WEBHOOK_MESSAGE, status=502, times=1)

    interaction = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "stubborn"})

    await finished(emulator, interaction)
    statuses = [r.status for r in emulator.requests if r.method == "PATCH" and r.route == WEBHOOK_MESSAGE]
    assert 429 in statuses
    assert 502 in statuses


async def test_a_channel_where_the_bot_cannot_attach_files_is_refused_up_front(
    start_bot: StartBot, discord_emulator: DiscordEmulator
) -> None:
    running = await start_bot()
    no_files = discord_emulator.add_channel(running.guild, "no-files", bot_permissions=VIEW | SEND | EMBED | HISTORY)

    interaction = await discord_emulator.invoke_slash(running.alice, no_files, "video", {"prompt": "a cat"})

    reply = await ephemeral_reply(interaction)
    assert "Attach Files" in reply
    assert await running.queue.active() == []
    assert "Queued" not in embed_text(interaction.original)


async def test_a_cancellation_that_cannot_be_shown_in_place_is_posted_in_the_channel_as_a_cancellation(
    start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.delivery.tracker.RETRY_DELAYS_S", (0.01, 0.01, 0.01))
    running = await start_bot(FakeGenerator(hold_load=True))  # the job waits while the model loads
    emulator = running.emulator
    waiting = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "never mind"})
    await waiting.wait_for_response()
    emulator.faults.drop("PATCH", WEBHOOK_MESSAGE, times=4)  # the final edit and its three retries

    await emulator.invoke_slash(running.alice, running.channel, "cancel", {})

    notice = await emulator.wait_for_message(
        channel_id=running.channel.id, predicate=lambda m: m.content == f"<@{running.alice.id}>"
    )
    assert "never mind" in embed_text(notice)
    assert "Cancelled" in embed_text(notice)
    assert "Failed" not in embed_text(notice)
