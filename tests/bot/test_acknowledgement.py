"""Every interaction is answered within Discord's 3 seconds, whatever the bot is waiting for.

A handler that has not answered `ACK_BUDGET_S` after the interaction was created is deferred for it:
the user sees "thinking…" (public where the answer will be public, private otherwise), and the
handler's answer fills it in later. These tests hold the slow call at a door (`running.doors`) and
move the shared clock past the budget, so the deferral happens because the test says so, never
because the machine was slow.
"""

from __future__ import annotations

from bot.discord_io.acknowledgement import ACK_BUDGET_S, BUSY_TEXT
from generation.queue.interface import JobCancelled
from tests.discord_emulator import Interaction
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import RunningBot, StartBot, button_ids, embed_text, ephemeral_reply, finished

INTERACTION_CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
DEFERRED_CHANNEL_MESSAGE = 5
CHANNEL_MESSAGE = 4
EPHEMERAL = 1 << 6


async def past_the_budget(running: RunningBot, method: str, interaction: Interaction) -> None:
    """Once the interaction's handler waits at the door of `method`, let the budget run out."""
    await running.doors.arrived(method)
    await running.clock.advance_past(ACK_BUDGET_S)
    await interaction.wait_for_response()


async def test_a_video_saved_within_the_budget_is_answered_with_its_status_at_once(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator())

    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat"})

    callback = await interaction.wait_for_response()
    assert callback.type == CHANNEL_MESSAGE
    assert not (callback.data or {}).get("flags", 0) & EPHEMERAL
    assert "Queued" in embed_text(interaction.original)
    assert len(interaction.callbacks) == 1


async def test_a_video_whose_save_outlasts_the_budget_is_deferred_then_shown_queued_once_saved(
    start_bot: StartBot,
) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator)
    running.doors.hold("submit")
    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat"})

    await past_the_budget(running, "submit", interaction)

    [deferral] = interaction.callbacks
    assert deferral.type == DEFERRED_CHANNEL_MESSAGE
    assert not (deferral.data or {}).get("flags", 0) & EPHEMERAL  # the status will be public
    assert await running.queue.active() == []  # "thinking…", not "queued": nothing is saved yet
    running.doors.release("submit")
    await running.emulator.wait_for(lambda: "Queued" in embed_text(interaction.original))
    generator.steps.open()
    await finished(running.emulator, interaction)
    assert len(interaction.callbacks) == 1


async def test_a_refusal_after_a_public_deferral_is_shown_only_to_the_user(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator())
    running.doors.hold("submit")
    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat"})
    await past_the_budget(running, "submit", interaction)

    await running.queue.pause()  # the queue refuses the job once the save goes ahead
    running.doors.release("submit")

    await running.emulator.wait_for(lambda: bool(interaction.followups))
    [refusal] = interaction.followups
    assert refusal.ephemeral
    assert "paused" in (refusal.content or "")
    assert interaction.original is not None
    assert interaction.original.deleted  # the public "thinking…" message is gone
    assert not any(
        "paused" in embed_text(m) + (m.content or "")
        for m in running.emulator.messages(running.channel)
        if not m.ephemeral
    )


async def test_a_job_whose_deferral_discord_refused_is_taken_back(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator())
    running.doors.hold("submit")
    events = running.queue.subscribe()
    refused = running.emulator.faults.refuse("POST", INTERACTION_CALLBACK, status=400, code=50035)
    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "unseen"})
    await running.doors.arrived("submit")
    await running.clock.advance_past(ACK_BUDGET_S)
    await running.emulator.wait_for(lambda: refused.remaining == 0)  # the deferral, refused

    running.doors.release("submit")

    assert "didn't queue it" in await ephemeral_reply(interaction)
    async for event in events:
        if isinstance(event, JobCancelled):
            break
    assert event.by == "system"


async def test_a_cancel_click_that_outlasts_the_budget_is_deferred_privately(start_bot: StartBot) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator)
    job = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "long"})
    await job.wait_for_response()
    await generator.steps.arrived(1)
    status = job.original
    assert status is not None
    running.doors.hold("cancel")
    [cancel_button] = [custom_id for custom_id in button_ids(status) if custom_id.startswith("job:cancel:")]

    click = await running.emulator.click_button(running.alice, status, cancel_button)
    await past_the_budget(running, "cancel", click)

    [deferral] = click.callbacks
    assert deferral.type == DEFERRED_CHANNEL_MESSAGE
    assert (deferral.data or {}).get("flags", 0) & EPHEMERAL
    running.doors.release("cancel")
    await running.emulator.wait_for(lambda: click.original is not None and click.original.content == "Stopping it now.")
    assert click.original is not None
    assert click.original.ephemeral


async def test_a_remix_click_that_outlasts_the_budget_says_busy_instead_of_a_late_form(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator())
    message = await finished(
        running.emulator,
        await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a kite"}),
    )
    running.doors.hold("get")
    [remix] = [custom_id for custom_id in button_ids(message) if custom_id.startswith("job:remix:")]

    click = await running.emulator.click_button(running.alice, message, remix)
    await past_the_budget(running, "get", click)
    running.doors.release("get")

    assert await ephemeral_reply(click) == BUSY_TEXT
    await running.bot.following.wait_until_settled()
    assert click.modal is None
    assert len(click.callbacks) == 1


async def test_a_remix_form_sent_before_a_restart_is_still_queued_after_it(start_bot: StartBot) -> None:
    running = await start_bot()
    message = await finished(
        running.emulator,
        await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a red kite"}),
    )
    [remix] = [custom_id for custom_id in button_ids(message) if custom_id.startswith("job:remix:")]
    click = await running.emulator.click_button(running.alice, message, remix)
    await click.wait_for_response()
    assert click.modal is not None
    await running.bot.close()

    restarted = await start_bot()
    submit = await restarted.emulator.submit_modal(
        running.alice, click, click.modal["custom_id"], {"prompt": "a green kite -steps 2"}
    )

    await finished(restarted.emulator, submit)
    assert restarted.generator.calls[0][0].prompt == "a green kite"  # type: ignore[attr-defined]
