"""`/video` end to end: the real bot, the real queue, the emulator, and a generator."""

from __future__ import annotations

import io

import av

from tests.fixtures.bot import StartBot


def decode(data: bytes) -> tuple[str, str, int, int, int]:
    """(codec, pix_fmt, frames, width, height) of an MP4."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, stream.codec_context.pix_fmt, frames, stream.width, stream.height


async def test_video_command_replies_with_the_mp4(start_bot: StartBot) -> None:
    running = await start_bot()
    emulator = running.emulator

    interaction = await emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "Spiderman is surfing", "frames": 8}
    )

    await interaction.wait_for_response()
    await emulator.wait_for(lambda: bool(interaction.original and interaction.original.attachments))
    message = interaction.original
    assert message is not None
    assert decode(message.attachments[0].data) == ("h264", "yuv420p", 8, 64, 64)
    assert "Spiderman is surfing" in message.embeds[0]["description"]
