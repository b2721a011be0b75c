"""Extend: a finished video continued from its last frame by an image-to-video model, for whoever clicked,
delivered as one MP4 of the original then the continuation, through the real bot, queue and Discord
emulator, with the tiny real LTX image-to-video pipeline."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from generation.generator import DiffusersGenerator
from generation.queue.interface import JobInfo
from tests.discord_emulator import Interaction, Message
from tests.fixtures.bot import RunningBot, StartBot, button_ids, decode_mp4, embed_text, ephemeral_reply, finished
from tests.fixtures.pictures import solid_png

TINY = {"video_sizes": ["tiny:64x64"]}


def images_seen(generator: DiffusersGenerator) -> list[npt.NDArray[np.uint8]]:
    """The pictures the recording pipeline was handed, call by call."""
    pipeline = generator.pipeline
    return [np.asarray(picture) for picture in pipeline.pipe.images_seen]  # type: ignore[attr-defined]


def last_frame(mp4: bytes) -> npt.NDArray[np.uint8]:
    with av.open(io.BytesIO(mp4)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return frames[-1]


def button(message: Message, action: str) -> str:
    return next(custom_id for custom_id in button_ids(message) if custom_id.startswith(f"job:{action}:"))


async def an_animated_video(running: RunningBot) -> Message:
    image = running.emulator.attachment("sunset.png", solid_png((255, 0, 0)), "image/png")
    arguments = {"prompt": "waves roll in", "image": image, "steps": 2, "frames": 9, "fps": 8}
    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", arguments)
    return await finished(running.emulator, interaction)


async def delete_the_video(running: RunningBot, message: Message) -> JobInfo:
    """Delete the file of the video `message` shows, as retention does; its job's snapshot."""
    info = await running.queue.get(button(message, "extend").split(":")[2])
    assert info.video_path is not None
    await asyncio.to_thread(Path(info.video_path).unlink)
    return info


async def extend_form(running: RunningBot, message: Message, clicker: str = "alice") -> Interaction:
    click = await running.emulator.click_button(getattr(running, clicker), message, button(message, "extend"))
    await click.wait_for_response()
    assert click.modal is not None, "no form"
    return click


async def test_a_finished_video_offers_extend_where_a_served_model_animates_pictures(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)

    message = await an_animated_video(running)

    assert [custom_id.split(":")[1] for custom_id in button_ids(message)] == [
        "reroll",
        "remix",
        "extend",
        "info",
        "delete",
    ]


async def test_a_text_to_video_deployment_offers_no_extend(start_bot: StartBot) -> None:
    running = await start_bot()
    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a red kite", "steps": 2}
    )

    message = await finished(running.emulator, interaction)

    assert not any(custom_id.startswith("job:extend:") for custom_id in button_ids(message))


async def test_extend_opens_a_form_with_the_prompt_and_the_settings_it_may_change(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)
    message = await an_animated_video(running)

    click = await extend_form(running, message)

    assert click.modal is not None
    assert click.modal["title"] == "Extend this video"
    assert click.modal["components"][0]["components"][0]["value"] == "waves roll in -steps 2 -frames 9 -gs 3"


async def test_the_extension_is_the_original_then_the_continuation_from_its_last_frame(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)
    original = await an_animated_video(running)
    click = await extend_form(running, original)
    before = len(images_seen(tiny_i2v_generator))

    submit = await running.emulator.submit_modal(
        running.alice, click, click.modal["custom_id"], {"prompt": "the tide turns -steps 2 -frames 9"}
    )

    extended = await finished(running.emulator, submit)
    assert "the tide turns" in embed_text(extended)
    assert decode_mp4(extended.attachments[0].data)[2:] == (9 + 9 - 1, 64, 64)
    [picture] = images_seen(tiny_i2v_generator)[before:]
    assert np.array_equal(picture, last_frame(original.attachments[0].data))


async def test_a_form_that_asks_for_another_frame_rate_is_refused_with_the_one_it_keeps(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)
    original = await an_animated_video(running)
    click = await extend_form(running, original)

    submit = await running.emulator.submit_modal(
        running.alice, click, click.modal["custom_id"], {"prompt": "the tide turns -fps 12"}
    )

    reply = await ephemeral_reply(submit)
    assert reply.startswith("fps must be 8, the frame rate of the video extended (got 12)")
    assert len(await running.queue.history(limit=10)) == 1


async def test_extend_by_another_member_is_their_job(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)
    original = await an_animated_video(running)
    click = await extend_form(running, original, clicker="bob")

    submit = await running.emulator.submit_modal(running.bob, click, click.modal["custom_id"], {})

    extended = await finished(running.emulator, submit)
    assert f"<@{running.bob.id}>" in embed_text(extended)
    [continuation] = await running.queue.history(owner_id=str(running.bob.id))
    assert continuation.spec.request.extend is not None
    assert continuation.spec.request.image is None


async def test_extend_of_a_video_whose_file_is_gone_is_refused_to_the_clicker_alone(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)
    original = await an_animated_video(running)
    await delete_the_video(running, original)

    click = await running.emulator.click_button(running.alice, original, button(original, "extend"))

    reply = await ephemeral_reply(click)
    assert reply.startswith("This video can't be extended: its file is no longer kept")
    assert click.modal is None


async def test_a_form_sent_back_after_the_video_was_deleted_is_refused_to_the_member_alone(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)
    original = await an_animated_video(running)
    click = await extend_form(running, original)
    info = await delete_the_video(running, original)

    submit = await running.emulator.submit_modal(running.alice, click, click.modal["custom_id"], {})

    assert "its file is no longer kept" in await ephemeral_reply(submit)
    assert [job.job_id for job in await running.queue.history(limit=10)] == [info.job_id]
    assert await running.queue.active() == []


async def test_extend_still_works_after_a_restart(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)
    original = await an_animated_video(running)
    await running.bot.close()
    restarted = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)

    click = await extend_form(restarted, original)
    submit = await restarted.emulator.submit_modal(restarted.alice, click, click.modal["custom_id"], {})

    extended = await finished(restarted.emulator, submit)
    assert decode_mp4(extended.attachments[0].data)[2] == 9 + 9 - 1


# In-process: the restarted deployment serves the text model alone. Over Redis a model whose workers
# stopped stays listed for a day with none (its jobs wait for one: tests/bot/test_models.py).
@pytest.mark.local_only
async def test_extend_is_refused_once_no_served_model_animates_pictures(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), **TINY)
    original = await an_animated_video(running)
    await running.bot.close()
    text_only = await start_bot(**TINY)  # the seed model: text to video

    click = await text_only.emulator.click_button(text_only.alice, original, button(original, "extend"))

    assert (await ephemeral_reply(click)).startswith("This video can't be extended: no model served here")
    assert click.modal is None
