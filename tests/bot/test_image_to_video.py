"""`/video` with an image-to-video model and with LTX-Video: the picture option, its checks at the edge,
the frame rule applied and said, the picture kept by Re-roll and across a restart, through the real bot,
queue and Discord emulator, with tiny real pipelines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from generation.generator import DiffusersGenerator
from tests.discord_emulator import Interaction
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import (
    STATUS_EDIT_INTERVAL_S,
    RunningBot,
    StartBot,
    button_ids,
    decode_mp4,
    embed_text,
    ephemeral_reply,
    finished,
)
from tests.fixtures.pictures import huge_png_header, solid_png

TINY = {"video_sizes": ["tiny:64x64"]}


def images_seen(generator: DiffusersGenerator) -> list[Any]:
    """What the recording pipeline was handed as `image`, call by call."""
    pipeline: Any = generator.pipeline
    return list(pipeline.pipe.images_seen)


async def animate(running: RunningBot, picture: bytes, **options: Any) -> Interaction:
    image = running.emulator.attachment("sunset.png", picture, "image/png")
    arguments = {"prompt": "waves roll in", "image": image, "steps": 2, **options}
    return await running.emulator.invoke_slash(running.alice, running.channel, "video", arguments)


async def nothing_queued(running: RunningBot) -> bool:
    return not await running.queue.active() and not await running.queue.history(limit=10)


async def test_the_picture_is_animated_with_the_frame_count_rounded_to_the_models_rule(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)
    before = len(images_seen(tiny_i2v_generator))

    interaction = await animate(running, solid_png((255, 0, 0)), frames=16)

    callback = await interaction.wait_for_response()
    assert callback.data is not None
    assert "frames 16 → 17: LTX-Video (image-to-video) makes 8k+1 frames" in str(callback.data.get("embeds"))
    message = await finished(running.emulator, interaction)
    assert decode_mp4(message.attachments[0].data)[2:] == (17, 64, 64)
    [picture] = images_seen(tiny_i2v_generator)[before:]
    assert picture.size == (64, 64)
    assert np.asarray(picture)[32, 32].tolist() == [255, 0, 0]


async def test_re_roll_animates_the_same_picture_again(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)
    message = await finished(running.emulator, await animate(running, solid_png((0, 255, 0)), frames=9))
    before = len(images_seen(tiny_i2v_generator))

    [reroll] = [custom_id for custom_id in button_ids(message) if custom_id.startswith("job:reroll:")]
    again = await running.emulator.click_button(running.alice, message, reroll)

    await finished(running.emulator, again)
    [picture] = images_seen(tiny_i2v_generator)[before:]
    assert np.asarray(picture)[0, 0].tolist() == [0, 255, 0]


async def test_remix_animates_the_same_picture_with_the_new_prompt(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)
    message = await finished(running.emulator, await animate(running, solid_png((0, 0, 255)), frames=9))
    [remix] = [custom_id for custom_id in button_ids(message) if custom_id.startswith("job:remix:")]
    click = await running.emulator.click_button(running.alice, message, remix)
    await click.wait_for_response()
    assert click.modal is not None
    before = len(images_seen(tiny_i2v_generator))

    submit = await running.emulator.submit_modal(
        running.alice, click, click.modal["custom_id"], {"prompt": "a storm -steps 2 -frames 9"}
    )

    done = await finished(running.emulator, submit)
    assert "a storm" in embed_text(done)
    [picture] = images_seen(tiny_i2v_generator)[before:]
    assert np.asarray(picture)[0, 0].tolist() == [0, 0, 255]


async def test_a_queued_picture_survives_a_restart(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    held = FakeGenerator(hold_steps=True)
    running = await start_bot(held, model_id=str(tiny_ltx_i2v_dir), shutdown_grace_s=0, **TINY)
    first = await animate(running, solid_png((255, 0, 0)), frames=9)
    await first.wait_for_response()
    await held.steps.arrived(1)
    image = running.emulator.attachment("night.png", solid_png((0, 0, 255)), "image/png")
    waiting = await running.emulator.invoke_slash(
        running.bob, running.channel, "video", {"prompt": "stars", "image": image, "steps": 2, "frames": 9}
    )
    await waiting.wait_for_response()
    await running.bot.close()
    before = len(images_seen(tiny_i2v_generator))

    restarted = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)

    await restarted.emulator.wait_for(lambda: len(images_seen(tiny_i2v_generator)) >= before + 2)
    colours = {tuple(np.asarray(picture)[0, 0].tolist()) for picture in images_seen(tiny_i2v_generator)[before:]}
    assert colours == {(255, 0, 0), (0, 0, 255)}


async def test_each_bad_picture_gets_an_ephemeral_answer_and_nothing_is_queued(
    start_bot: StartBot, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(FakeGenerator(), model_id=str(tiny_ltx_i2v_dir), **TINY)
    emulator = running.emulator
    expired = emulator.attachment("old.png", solid_png((9, 9, 9)), "image/png")
    cases = [
        (emulator.attachment("notes.png", b"just text, renamed\n", "image/png"), "a file that is not a readable image"),
        (emulator.attachment("bomb.png", huge_png_header(), "image/png"), "too many pixels"),
        (emulator.attachment("huge.png", b"\0" * (30 * 2**20), "image/png"), "30.0 MiB"),
        (emulator.attachment("clip.mp4", b"\0" * 100, "video/mp4"), "a video/mp4"),
    ]
    for attachment, problem in cases:
        interaction = await emulator.invoke_slash(
            running.alice, running.channel, "video", {"prompt": "waves", "image": attachment}
        )
        answer = await ephemeral_reply(interaction)
        assert answer.startswith("image must be a PNG, JPEG or WebP of at most 10 MiB"), answer
        assert problem in answer

    emulator.expire_upload(expired)
    interaction = await emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "w", "image": expired}
    )
    answer = await ephemeral_reply(interaction)

    assert "I couldn't download your image “old.png”: its link has expired or the file was deleted" in answer
    assert await nothing_queued(running)


async def test_a_german_member_reads_what_was_wrong_with_their_picture_in_german(
    start_bot: StartBot, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(FakeGenerator(), model_id=str(tiny_ltx_i2v_dir), **TINY)
    emulator = running.emulator
    hans = emulator.add_user("hans", locale="de")
    emulator.add_member(running.guild, hans)
    unreadable = emulator.attachment("notes.png", b"just text, renamed\n", "image/png")
    untyped = emulator.attachment("blob", b"\0" * 100, "")

    for attachment, problem in [
        (unreadable, "“notes.png”, eine Datei, die kein lesbares Bild ist"),
        (untyped, "“blob”, eine Datei unbekannten Typs"),
    ]:
        interaction = await emulator.invoke_slash(hans, running.channel, "video", {"prompt": "w", "image": attachment})
        answer = await ephemeral_reply(interaction)
        assert answer.startswith("image muss ein PNG, JPEG oder WebP mit höchstens 10 MiB und "), answer
        assert problem in answer
    assert await running.queue.active() == []


async def test_a_text_to_video_model_offers_no_picture_option(start_bot: StartBot, tiny_ltx_dir: Path) -> None:
    running = await start_bot(FakeGenerator(), model_id=str(tiny_ltx_dir), **TINY)

    [video] = [command for command in running.emulator.commands(running.guild) if command["name"] == "video"]
    options = {option["name"]: option for option in video["options"]}

    assert "image" not in options
    assert (options["frames"]["min_value"], options["frames"]["max_value"]) == (9, 257)
    assert options["steps"]["max_value"] == 50


async def test_ltx_video_through_the_bot_makes_the_rounded_frame_count(
    start_bot: StartBot, tiny_ltx_generator: DiffusersGenerator, tiny_ltx_dir: Path
) -> None:
    running = await start_bot(tiny_ltx_generator, model_id=str(tiny_ltx_dir), **TINY)

    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a red kite", "frames": 12, "steps": 2}
    )

    message = await finished(running.emulator, interaction)
    assert decode_mp4(message.attachments[0].data)[2:] == (17, 64, 64)
    assert "17 frames" in embed_text(message)


async def test_the_adjustment_stays_on_the_status_message_while_the_video_is_made(
    start_bot: StartBot, tiny_ltx_dir: Path
) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator, model_id=str(tiny_ltx_dir), **TINY)
    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a red kite", "frames": 12, "steps": 4}
    )
    callback = await interaction.wait_for_response()
    message = interaction.original
    assert callback.data is not None
    assert message is not None

    generator.steps.release(2)
    await running.clock.run_until_done(
        running.emulator.wait_for(lambda: "Generating" in embed_text(message)), step=STATUS_EDIT_INTERVAL_S
    )
    generator.steps.open()
    await finished(running.emulator, interaction)

    shown = [callback.data["embeds"], *(edit.embeds for edit in message.edits)]
    assert [embeds[0]["title"] for embeds in shown] == ["⏳ Queued", "🎬 Generating", "✅ Done"]
    for embeds in shown:
        notes = [field["value"] for field in embeds[0]["fields"] if field["name"] == "Adjusted to fit the model"]
        assert notes == ["frames 12 → 17: LTX-Video (text-to-video) makes 8k+1 frames"]


async def test_a_default_frame_count_off_the_models_rule_is_refused_with_the_rule(
    start_bot: StartBot, tiny_ltx_dir: Path
) -> None:
    running = await start_bot(FakeGenerator(), model_id=str(tiny_ltx_dir), **TINY)
    admin = running.emulator.add_user("admin")
    running.emulator.add_member(running.guild, admin, permissions=1 << 5)  # Manage Server

    setting = await running.emulator.invoke_slash(
        admin, running.channel, "videoadmin defaults", {"scope": "channel", "frames": 16}
    )

    assert await ephemeral_reply(setting) == "frames must be 8k+1 frames from 9 to 257 (9, 17, 25, …) (got 16)"


async def test_the_models_defaults_fill_what_a_request_leaves_out(start_bot: StartBot, tiny_ltx_dir: Path) -> None:
    generator = FakeGenerator()
    running = await start_bot(generator, model_id=str(tiny_ltx_dir), **TINY)

    await finished(
        running.emulator,
        await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a fox"}),
    )

    [[request]] = generator.calls
    assert (request.num_frames, request.fps, request.guidance_scale, request.steps) == (121, 24, 3.0, 50)
    assert request.negative_prompt == "worst quality, inconsistent motion, blurry, jittery, distorted"
