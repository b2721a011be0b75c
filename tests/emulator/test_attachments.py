"""Attachment options: Discord resolves them to an `AttachmentResponse` with a signed CDN link, which
serves the file until the link expires or the file is deleted."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import World


async def test_an_attached_file_is_resolved_and_downloadable_from_its_link(world: World) -> None:
    upload = world.emulator.attachment("note.txt", b"hello", "text/plain")

    interaction = await world.emulator.invoke_slash(world.alice, world.channel, "t fetch", {"file": upload})

    await interaction.wait_for_response()
    assert interaction.original is not None
    assert interaction.original.content == "note.txt text/plain 5 bytes b'hello'"
    resolved = interaction.data["resolved"]["attachments"][str(upload.id)]
    assert resolved["url"].startswith(world.emulator.cdn.base_url + "/cdn/attachments/")
    assert "?ex=" in resolved["url"]
    assert (resolved["filename"], resolved["size"]) == ("note.txt", 5)


async def test_an_expired_link_answers_not_found(world: World) -> None:
    upload = world.emulator.attachment("old.txt", b"stale", "text/plain")
    world.emulator.expire_upload(upload)

    interaction = await world.emulator.invoke_slash(world.alice, world.channel, "t fetch", {"file": upload})

    callback = await interaction.wait_for_response()
    assert callback.data is not None
    assert callback.data["content"] == "old.txt is gone"


async def test_an_attachment_option_takes_only_an_attachment(world: World) -> None:
    with pytest.raises(ValueError, match="takes an Attachment"):
        await world.emulator.invoke_slash(world.alice, world.channel, "t fetch", {"file": "note.txt"})
