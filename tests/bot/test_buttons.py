"""Buttons on status and result messages: who may press them, what they do, and that they survive restarts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.discord_emulator import Message
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import RunningBot, StartBot, button_ids, embed_text, ephemeral_reply, finished


async def a_finished_video(running: RunningBot, prompt: str = "a red kite -seed 5 -steps 3") -> Message:
    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": prompt})
    return await finished(running.emulator, interaction)


def button(message: Message, action: str) -> str:
    return next(custom_id for custom_id in button_ids(message) if custom_id.startswith(f"job:{action}:"))


async def test_a_finished_video_offers_reroll_remix_info_and_delete(start_bot: StartBot) -> None:
    running = await start_bot()

    message = await a_finished_video(running)

    assert [custom_id.split(":")[1] for custom_id in button_ids(message)] == [
        "reroll",
        "remix",
        "info",
        "delete",
    ]


async def test_reroll_keeps_the_settings_and_draws_a_new_seed_for_whoever_clicked(
    start_bot: StartBot,
) -> None:
    running = await start_bot()
    message = await a_finished_video(running)

    click = await running.emulator.click_button(running.bob, message, button(message, "reroll"))

    rerolled = await finished(running.emulator, click)
    first, second = (call[0] for call in running.generator.calls)  # type: ignore[attr-defined]
    assert second.seed != first.seed
    assert second.with_seed(None) == first.with_seed(None)
    assert f"<@{running.bob.id}>" in embed_text(rerolled)


@pytest.mark.parametrize(
    ("flags", "now", "refusal"),
    [
        ("-steps 40", {"max_steps": 30}, "steps must be between 1 and 30 on this server (got 40)"),
        ("-size 128x64", {"video_sizes": ["tiny:64x64"]}, "size must be one of tiny 64×64 on this server (got 128×64)"),
    ],
    ids=["lowered-limit", "removed-size"],
)
async def test_reroll_is_refused_when_the_settings_no_longer_fit_this_servers_limits(
    start_bot: StartBot, flags: str, now: dict[str, Any], refusal: str
) -> None:
    running = await start_bot()
    message = await a_finished_video(running, f"a red kite {flags}")
    await running.bot.close()
    restarted = await start_bot(**now)

    click = await restarted.emulator.click_button(running.alice, message, button(message, "reroll"))

    assert refusal in await ephemeral_reply(click)
    assert restarted.generator.calls == []  # type: ignore[attr-defined]


async def test_info_shows_the_full_settings_only_to_the_clicker(start_bot: StartBot) -> None:
    running = await start_bot()
    message = await a_finished_video(running)

    click = await running.emulator.click_button(running.bob, message, button(message, "info"))

    reply = await ephemeral_reply(click)
    callback = await click.wait_for_response()
    assert callback.data is not None
    fields = {field["name"]: field["value"] for field in callback.data["embeds"][0]["fields"]}
    assert "a red kite" in reply
    assert "seed 5 · 3 steps" in fields["Settings"]


async def test_remix_opens_a_prefilled_form_and_queues_the_edited_prompt(start_bot: StartBot) -> None:
    running = await start_bot()
    message = await a_finished_video(running)

    click = await running.emulator.click_button(running.alice, message, button(message, "remix"))
    await click.wait_for_response()
    assert click.modal is not None
    prefilled = click.modal["components"][0]["components"][0]["value"]
    assert prefilled.startswith("a red kite -steps 3")
    submit = await running.emulator.submit_modal(
        running.alice,
        click,
        click.modal["custom_id"],
        {"prompt": "a blue kite -steps 2", "negative_prompt": "rain"},
    )

    await finished(running.emulator, submit)
    remixed = running.generator.calls[1][0]  # type: ignore[attr-defined]
    assert (remixed.prompt, remixed.steps, remixed.negative_prompt) == ("a blue kite", 2, "rain")


async def test_remix_of_a_prompt_near_the_length_limit_keeps_every_setting(start_bot: StartBot) -> None:
    running = await start_bot()
    long_prompt = ("a red kite over a grey sea " * 40)[:990].strip()
    options = {"prompt": long_prompt, "steps": 3, "frames": 6, "guidance": 5.5, "fps": 12, "size": "small"}
    first = await finished(
        running.emulator, await running.emulator.invoke_slash(running.alice, running.channel, "video", options)
    )
    click = await running.emulator.click_button(running.alice, first, button(first, "remix"))
    await click.wait_for_response()
    assert click.modal is not None

    submit = await running.emulator.submit_modal(running.alice, click, click.modal["custom_id"], {})

    await finished(running.emulator, submit)
    original, remixed = (call[0] for call in running.generator.calls)  # type: ignore[attr-defined]
    assert remixed.with_seed(None) == original.with_seed(None)


async def test_a_remixed_prompt_over_the_length_limit_gets_an_ephemeral_error(start_bot: StartBot) -> None:
    running = await start_bot()
    message = await a_finished_video(running)
    click = await running.emulator.click_button(running.alice, message, button(message, "remix"))
    await click.wait_for_response()
    assert click.modal is not None

    submit = await running.emulator.submit_modal(
        running.alice, click, click.modal["custom_id"], {"prompt": "a kite " * 150 + "-steps 3"}
    )

    reply = await ephemeral_reply(submit)
    assert reply.startswith("prompt must be at most 1000 characters")
    assert len(running.generator.calls) == 1  # type: ignore[attr-defined]


async def test_only_the_requester_or_a_moderator_can_delete(start_bot: StartBot) -> None:
    running = await start_bot()
    message = await a_finished_video(running)

    refused = await running.emulator.click_button(running.bob, message, button(message, "delete"))
    assert "Only the person who asked" in await ephemeral_reply(refused)
    assert not message.deleted

    moderator = running.emulator.add_user("mod")
    running.emulator.add_member(running.guild, moderator, permissions=1 << 13)  # Manage Messages
    deleted = await running.emulator.click_button(moderator, message, button(message, "delete"))
    await ephemeral_reply(deleted)
    await running.emulator.wait_for(lambda: message.deleted)


async def test_cancel_while_queued_removes_the_job_at_once(start_bot: StartBot) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator)
    emulator = running.emulator
    await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "long one -steps 50"})
    await generator.steps.arrived(1)  # running, held at its first step
    second = await emulator.invoke_slash(running.bob, running.channel, "video", {"prompt": "waiting one"})
    await second.wait_for_response()
    status = second.original
    assert status is not None

    refused = await emulator.click_button(running.alice, status, button(status, "cancel"))
    assert "Only the person who asked" in await ephemeral_reply(refused)
    cancel = await emulator.click_button(running.bob, status, button(status, "cancel"))

    assert await ephemeral_reply(cancel) == "Cancelled."
    await emulator.wait_for(lambda: "Cancelled" in embed_text(second.original))
    assert [info.spec.request.prompt for info in await running.queue.active()] == ["long one"]
    assert [call[0].prompt for call in running.generator.calls] == ["long one"]  # type: ignore[attr-defined]


async def test_cancel_while_running_stops_at_the_next_step_and_frees_the_worker(start_bot: StartBot) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator)
    emulator = running.emulator
    first = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "slow -steps 40"})
    await first.wait_for_response()
    generator.steps.release(3)
    await generator.steps.arrived(4)  # three steps done, held before the fourth
    second = await emulator.invoke_slash(running.bob, running.channel, "video", {"prompt": "next -steps 2"})
    await second.wait_for_response()
    status = first.original
    assert status is not None

    stopping = await emulator.click_button(running.alice, status, button(status, "cancel"))

    assert await ephemeral_reply(stopping) == "Stopping it now."
    await emulator.wait_for(lambda: "Cancelled" in embed_text(first.original))
    generator.steps.open()
    await finished(emulator, second)
    assert not first.original.attachments  # type: ignore[union-attr]
    assert generator.steps.passed == 3 + 2  # the cancelled job went no further; the next ran whole


async def test_buttons_keep_working_after_a_restart(start_bot: StartBot) -> None:
    running = await start_bot()
    message = await a_finished_video(running)
    await running.bot.close()

    restarted = await start_bot()
    click = await restarted.emulator.click_button(running.bob, message, button(message, "reroll"))

    await finished(restarted.emulator, click)
    assert restarted.generator.calls[0][0].prompt == "a red kite"  # type: ignore[attr-defined]
