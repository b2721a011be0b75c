"""`/video model:` through the real bot, queue and Discord emulator: the menu of served models, the choice
and its defaults, refusals that name what would work, the model on every message that shows a job, and
Re-roll and Remix. Where several are needed the deployment serves them for real (`start_bot(models=...)`,
a `MODELS` value): in-process one GPU swaps between them, over Redis one worker serves each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.discord_io.command_cache import JUST_UPDATED
from bot.intake.served_models import MODELS_TTL_S
from generation.profiles import SEED
from tests.discord_emulator import Message
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import (
    STATUS_EDIT_INTERVAL_S,
    RunningBot,
    StartBot,
    button_ids,
    embed_text,
    ephemeral_reply,
    finished,
)
from tests.fixtures.pictures import solid_png

SEED_NAME = SEED.name  # a one-model deployment's model is named after its profile
# Names in alphabetical order, so both backends list them alike (Redis lists by name).
TWO_TEXT = "classic=modelscope-t2v,fast=modelscope-t2v"
TEXT_AND_PICTURES = "classic=modelscope-t2v,motion=ltx-video-i2v"
EVERY_KIND = "classic=modelscope-t2v,fast=modelscope-t2v,motion=ltx-video-i2v"
TEXT_AND_LTX = "classic=modelscope-t2v,ltx=ltx-video"
MANAGE_GUILD = 1 << 5


async def video(running: RunningBot, **options: Any) -> Message:
    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", options)
    return await finished(running.emulator, interaction)


def requests(running: RunningBot) -> list[Any]:
    return [call[0] for call in running.generator.calls]  # type: ignore[attr-defined]


def button(message: Message, action: str) -> str:
    return next(custom_id for custom_id in button_ids(message) if custom_id.startswith(f"job:{action}:"))


async def menu(running: RunningBot, command: str, typed: str, **options: Any) -> list[dict[str, str]]:
    interaction = await running.emulator.autocomplete(
        running.alice, running.channel, command, {**options, "model": typed}, "model"
    )
    callback = await interaction.wait_for_response()
    assert callback.data is not None
    return list(callback.data["choices"])


async def test_the_model_menu_lists_the_served_model_with_its_kind(start_bot: StartBot) -> None:
    running = await start_bot()

    choices = await menu(running, "video", "", prompt="a fox")

    assert choices == [{"name": f"{SEED_NAME} (text → video)", "value": SEED_NAME}]


async def test_the_model_menu_offers_the_served_models_matching_what_is_typed(start_bot: StartBot) -> None:
    running = await start_bot(models=EVERY_KIND)

    assert [choice["value"] for choice in await menu(running, "video", "", prompt="a fox")] == [
        "classic",
        "fast",
        "motion",
    ]
    assert await menu(running, "video", "MOT", prompt="a fox") == [
        {"name": "motion (image → video)", "value": "motion"}
    ]


async def test_a_video_names_its_model_on_the_status_the_result_and_in_history(start_bot: StartBot) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator)
    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a heron"})
    callback = await interaction.wait_for_response()
    assert callback.data is not None
    status = callback.data["embeds"][0]["footer"]["text"]

    listing = await ephemeral_reply(await running.emulator.invoke_slash(running.bob, running.channel, "queue", {}))
    generator.steps.open()
    result = await finished(running.emulator, interaction)
    history = await ephemeral_reply(await running.emulator.invoke_slash(running.alice, running.channel, "history", {}))

    assert status.startswith(f"model {SEED_NAME} · seed random")
    assert f"a heron · `{SEED_NAME}`" in listing
    assert f"model {SEED_NAME} · seed " in embed_text(result)
    assert f"`{SEED_NAME}` · succeeded · seed" in history
    assert [request.model for request in requests(running)] == [SEED_NAME]


async def test_an_unknown_model_is_refused_listing_the_served_ones_and_nothing_is_queued(
    start_bot: StartBot,
) -> None:
    running = await start_bot(models=TEXT_AND_PICTURES)

    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a fox", "model": "quality"}
    )

    assert await ephemeral_reply(interaction) == (
        "model must be one of the models served now: `classic` (text → video), `motion` (image → video) (got “quality”)"
    )
    assert await running.queue.active() == []


async def test_a_french_member_reads_the_served_models_kinds_in_french(start_bot: StartBot) -> None:
    running = await start_bot(models=TEXT_AND_PICTURES)
    amelie = running.emulator.add_user("amelie", locale="fr")
    running.emulator.add_member(running.guild, amelie)

    interaction = await running.emulator.invoke_slash(
        amelie, running.channel, "video", {"prompt": "a fox", "model": "quality"}
    )

    assert await ephemeral_reply(interaction) == (
        "model doit être l'un des modèles servis en ce moment : `classic` (texte → vidéo), "
        "`motion` (image → vidéo) (reçu : “quality”)"
    )


async def test_a_picture_for_a_text_model_is_refused_naming_the_model_that_animates_pictures(
    start_bot: StartBot,
) -> None:
    running = await start_bot(models=TEXT_AND_PICTURES)
    picture = running.emulator.attachment("sunset.png", solid_png((255, 0, 0)), "image/png")

    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "waves", "image": picture, "model": "classic"}
    )

    assert await ephemeral_reply(interaction) == (
        "image must be left out: ModelScope text-to-video 1.7B (the seed model) makes videos from text; pick model "
        "`motion` to animate a picture (got “sunset.png”)"
    )
    assert await running.queue.active() == []


async def test_a_model_that_animates_pictures_asks_for_one(start_bot: StartBot) -> None:
    running = await start_bot(models=TEXT_AND_PICTURES)

    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "waves", "model": "motion"}
    )

    assert await ephemeral_reply(interaction) == (
        "image must be a picture to animate: LTX-Video (image-to-video) makes videos from images (got none)"
    )


async def test_with_text_and_picture_models_the_picture_is_optional(start_bot: StartBot) -> None:
    running = await start_bot(models=TEXT_AND_PICTURES)

    [command] = [each for each in running.emulator.commands(running.guild) if each["name"] == "video"]
    options = {option["name"]: option for option in command["options"]}

    assert options["image"].get("required", False) is False
    assert options["model"]["autocomplete"] is True


async def test_re_roll_keeps_the_model(start_bot: StartBot) -> None:
    running = await start_bot(models=TWO_TEXT)
    message = await video(running, prompt="a red kite -steps 3", model="fast")

    again = await running.emulator.click_button(running.bob, message, button(message, "reroll"))

    await finished(running.emulator, again)
    assert [request.model for request in requests(running)] == ["fast", "fast"]


async def test_remix_offers_the_model_and_may_change_it(start_bot: StartBot) -> None:
    running = await start_bot(models=TWO_TEXT)
    message = await video(running, prompt="a red kite -steps 3", model="fast")
    click = await running.emulator.click_button(running.alice, message, button(message, "remix"))
    await click.wait_for_response()
    assert click.modal is not None
    [field] = [
        component
        for row in click.modal["components"]
        for component in [row.get("component", row), *row.get("components", [])]
        if component.get("custom_id") == "model"
    ]
    assert field["value"] == "fast"

    submit = await running.emulator.submit_modal(
        running.alice, click, click.modal["custom_id"], {"prompt": "a storm -steps 2", "model": "classic"}
    )

    await finished(running.emulator, submit)
    assert [request.model for request in requests(running)] == ["fast", "classic"]


async def test_remix_to_a_model_not_served_is_refused_listing_the_served_ones(start_bot: StartBot) -> None:
    running = await start_bot()
    message = await video(running, prompt="a red kite -steps 3")
    click = await running.emulator.click_button(running.alice, message, button(message, "remix"))
    await click.wait_for_response()
    assert click.modal is not None

    submit = await running.emulator.submit_modal(
        running.alice, click, click.modal["custom_id"], {"prompt": "a storm", "model": "quality"}
    )

    assert "model must be one of the models served now" in await ephemeral_reply(submit)


async def test_a_channel_default_model_applies_to_video_without_one(start_bot: StartBot) -> None:
    running = await start_bot(models=TWO_TEXT)
    admin = running.emulator.add_user("admin")
    running.emulator.add_member(running.guild, admin, permissions=MANAGE_GUILD)
    offered = await running.emulator.autocomplete(
        admin, running.channel, "videoadmin defaults", {"scope": "channel", "model": "fa"}, "model"
    )
    offered_back = await offered.wait_for_response()
    assert offered_back.data is not None
    assert offered_back.data["choices"] == [{"name": "fast (text → video)", "value": "fast"}]

    setting = await running.emulator.invoke_slash(
        admin, running.channel, "videoadmin defaults", {"scope": "channel", "model": "fast"}
    )
    assert await ephemeral_reply(setting) == "Defaults for this channel saved."

    await video(running, prompt="a fox -steps 2")
    await video(running, prompt="a fox -steps 2", model="classic")
    assert [request.model for request in requests(running)] == ["fast", "classic"]


async def test_a_default_model_not_served_is_refused(start_bot: StartBot) -> None:
    running = await start_bot()
    admin = running.emulator.add_user("admin")
    running.emulator.add_member(running.guild, admin, permissions=MANAGE_GUILD)

    setting = await running.emulator.invoke_slash(
        admin, running.channel, "videoadmin defaults", {"scope": "server", "model": "quality"}
    )

    assert "model must be one of the models served now" in await ephemeral_reply(setting)


async def test_default_model_setting_picks_the_model_when_nothing_else_does(start_bot: StartBot) -> None:
    running = await start_bot(models=TWO_TEXT, default_model="fast")

    await video(running, prompt="a fox -steps 2")

    assert [request.model for request in requests(running)] == ["fast"]


def with_picture_option(command: dict[str, Any]) -> dict[str, Any]:
    """/video as a client cached it while an image-to-video model was served: an `image` option."""
    command["options"].append({"name": "image", "description": "The picture", "type": 11, "required": False})
    return command


def without_picture_option(command: dict[str, Any]) -> dict[str, Any]:
    """/video as a client cached it while a text-to-video model was served: no `image` option."""
    command["options"] = [option for option in command["options"] if option["name"] != "image"]
    return command


async def test_a_video_sent_with_an_option_the_command_no_longer_has_is_asked_again(start_bot: StartBot) -> None:
    running = await start_bot()
    picture = running.emulator.attachment("sunset.png", solid_png((255, 0, 0)), "image/png")

    interaction = await running.emulator.invoke_outdated_slash(
        running.alice, running.channel, "video", {"prompt": "waves", "image": picture}, with_picture_option
    )

    assert await ephemeral_reply(interaction) == JUST_UPDATED
    assert await running.queue.active() == []


async def test_a_video_sent_without_an_option_now_required_is_asked_again(
    start_bot: StartBot, tiny_ltx_i2v_dir: Path
) -> None:
    running = await start_bot(model_id=str(tiny_ltx_i2v_dir), video_sizes=["tiny:64x64"])

    interaction = await running.emulator.invoke_outdated_slash(
        running.alice, running.channel, "video", {"prompt": "waves"}, without_picture_option
    )

    assert await ephemeral_reply(interaction) == JUST_UPDATED
    assert await running.queue.active() == []


@pytest.mark.redis_only
async def test_a_job_whose_model_no_live_worker_serves_says_it_waits_for_one(start_bot: StartBot) -> None:
    running = await start_bot()
    await running.queue.host.close()  # the only worker serving the model stops
    running.clock.advance(MODELS_TTL_S)  # the bot's last look at the served models is out of date

    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a fox"})
    offered = await menu(running, "video", "", prompt="a fox")

    callback = await interaction.wait_for_response()
    assert callback.data is not None
    waiting = {field["name"]: field["value"] for field in callback.data["embeds"][0]["fields"]}["Waiting"]
    assert waiting == f"waiting for a worker that serves `{SEED_NAME}`"
    assert [info.status.value for info in await running.queue.active()] == ["queued"]
    assert offered == [{"name": f"{SEED_NAME} (text → video) · no worker up now", "value": SEED_NAME}]


async def test_the_chosen_models_frame_rule_and_sizes_apply_and_the_adjustment_is_said(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator(hold_steps=True), models=TEXT_AND_LTX)

    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a kite", "model": "ltx", "frames": 16, "steps": 2}
    )

    callback = await interaction.wait_for_response()
    assert callback.data is not None
    fields = {field["name"]: field["value"] for field in callback.data["embeds"][0]["fields"]}
    assert fields["Adjusted to fit the model"] == "frames 16 → 17: LTX-Video (text-to-video) makes 8k+1 frames"
    [queued] = await running.queue.active()
    request = queued.spec.request
    assert (request.model, request.num_frames, request.width, request.height) == ("ltx", 17, 704, 480)


async def test_a_size_of_another_model_is_refused_naming_the_chosen_models_sizes(start_bot: StartBot) -> None:
    running = await start_bot(models=TEXT_AND_LTX)

    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a kite", "model": "ltx", "size": "tiny"}
    )

    assert await ephemeral_reply(interaction) == (
        "size must be one of landscape 704×480, portrait 480×704, wide 768×512, tall 512×768, square 512×512 "
        "(got “tiny”)"
    )


@pytest.mark.local_only  # one GPU swapping between models; a Redis worker holds its one model
async def test_the_status_says_the_model_loads_until_the_first_step(start_bot: StartBot) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator, models=TWO_TEXT)
    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a kite", "model": "fast", "steps": 4}
    )
    await interaction.wait_for_response()
    message = interaction.original
    assert message is not None

    await generator.steps.arrived(1)
    await running.clock.run_until_done(
        running.emulator.wait_for(lambda: "Generating" in embed_text(message)), step=STATUS_EDIT_INTERVAL_S
    )
    loading = embed_text(message)
    generator.steps.release(2)
    await running.clock.run_until_done(
        running.emulator.wait_for(lambda: "step 2/4" in embed_text(message)), step=STATUS_EDIT_INTERVAL_S
    )

    assert "Model: loading `fast`" in loading
    assert "loading" not in embed_text(message)
