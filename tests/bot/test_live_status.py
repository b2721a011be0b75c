"""The status message: position and ETA while queued, a progress bar while generating, edited in place."""

from __future__ import annotations

import asyncio
import itertools
import re

import pytest

from generation.queue.interface import JobFinished, JobInfo, JobStatus
from generation.queue.local import LocalJobQueue
from tests.discord_emulator import Interaction, Message
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import STATUS_EDIT_INTERVAL_S, RunningBot, StartBot, embed_text, finished

CHANNEL_MESSAGES = "/channels/{channel_id}/messages"
WEBHOOK_MESSAGE = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"


async def running_held(start_bot: StartBot, prompt: str, **settings: object) -> tuple[RunningBot, Interaction]:
    """Alice's job is running, held at its first step until the test lets it go on."""
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator, **settings)
    job = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": prompt})
    await job.wait_for_response()
    await generator.steps.arrived(1)
    return running, job


async def stopped_mid_generation(start_bot: StartBot, prompt: str) -> RunningBot:
    """Alice's job is running when the bot stops with no grace: it is put back in line, not finished."""
    running, _ = await running_held(start_bot, f"{prompt} -steps 30", shutdown_grace_s=0)
    await running.bot.close()
    return running


async def video_posted(running: RunningBot, prompt: str) -> Message:
    """The channel message that carries the video of the job asked with `prompt`."""
    return await running.emulator.wait_for_message(
        channel_id=running.channel.id,
        predicate=lambda m: prompt in embed_text(m) and bool(m.attachments),
    )


async def owed_at_next_start(running: RunningBot) -> list[JobInfo]:
    """What a start on the bot's database hands back: jobs to re-queue and outcomes still owed."""
    queue = LocalJobQueue(running.settings, running.settings, FakeGenerator())
    try:
        return await queue.start()
    finally:
        await queue.close()


def progress_steps(message: Message) -> list[int]:
    steps = []
    for edit in message.edits:
        text = " ".join(f"{f['value']}" for embed in edit.embeds for f in embed.get("fields", []))
        found = re.search(r"step (\d+)/40", text)
        if found:
            steps.append(int(found.group(1)))
    return steps


@pytest.mark.local_only  # the held step is the gate; through Redis progress reaches the bot a hop later
async def test_progress_is_shown_at_most_once_per_interval_and_always_the_newest_step(start_bot: StartBot) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator)
    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a slow pan -steps 40"}
    )
    await interaction.wait_for_response()
    message = interaction.original
    assert message is not None

    for done in (3, 10, 25):
        generator.steps.release(done - generator.steps.passed)
        await generator.steps.arrived(done + 1)  # steps up to `done` reported; the next one held
        edits = len(message.edits)
        running.clock.advance(STATUS_EDIT_INTERVAL_S)
        await running.emulator.wait_for(lambda edits=edits: len(message.edits) > edits)
    generator.steps.open()
    await finished(running.emulator, interaction)

    # One edit per interval, each with the newest step: the steps in between were never sent.
    assert progress_steps(message) == [3, 10, 25]
    moments = [edit.at for edit in message.edits]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(moments)]
    assert gaps[:2] == [pytest.approx(STATUS_EDIT_INTERVAL_S)] * 2
    assert gaps[-1] == 0.0  # the result does not wait for the throttle


async def test_a_waiting_job_shows_its_position_and_ready_time_and_moves_up(start_bot: StartBot) -> None:
    generator = FakeGenerator()
    running = await start_bot(generator)
    emulator = running.emulator
    warm_up = await emulator.invoke_slash(running.bob, running.channel, "video", {"prompt": "warm-up -steps 2"})
    await finished(emulator, warm_up)  # ETAs come from the durations of recent jobs
    generator.steps.hold()
    before = generator.steps.arrivals
    first = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "first -steps 2"})
    await generator.steps.arrived(before + 1)

    second = await emulator.invoke_slash(running.bob, running.channel, "video", {"prompt": "second -steps 5"})

    await second.wait_for_response()
    queued = embed_text(second.original)
    assert "Position: #1" in queued
    assert re.search(r"Ready: <t:\d+:R>", queued)
    generator.steps.release(2)  # the first job ends; the second starts and is held at its first step
    await finished(emulator, first)
    await generator.steps.arrived(before + 3)
    running.clock.advance(STATUS_EDIT_INTERVAL_S)
    await emulator.wait_for(lambda: "Generating" in embed_text(second.original))


async def test_a_restart_requeues_pending_jobs_and_tells_their_users(start_bot: StartBot) -> None:
    running, first = await running_held(start_bot, "interrupted -steps 30", shutdown_grace_s=0)
    emulator = running.emulator
    waiting = await emulator.invoke_slash(running.bob, running.channel, "video", {"prompt": "still waiting"})
    await waiting.wait_for_response()
    await running.bot.close()  # no grace: the running job is put back in line, not finished

    await start_bot(FakeGenerator())

    for old in (first.original, waiting.original):
        assert old is not None
        await emulator.wait_for(lambda old=old: old.deleted)  # the stale status messages are retired
    for user, prompt in ((running.alice, "interrupted"), (running.bob, "still waiting")):
        delivered = await video_posted(running, prompt)
        assert f"<@{user.id}>" in delivered.content


async def test_the_time_shown_for_a_recovered_video_counts_from_the_request_not_the_restart(
    start_bot: StartBot,
) -> None:
    running, _ = await running_held(start_bot, "patient -steps 30", shutdown_grace_s=0)
    running.clock.advance(2.0)  # waiting the user lived through before the restart
    await running.bot.close()

    await start_bot(FakeGenerator())

    delivered = await video_posted(running, "patient")
    assert "Time: 2 s" in embed_text(delivered)


async def test_a_recovered_job_is_delivered_although_its_restart_notice_was_lost(start_bot: StartBot) -> None:
    running = await stopped_mid_generation(start_bot, "interrupted")
    emulator = running.emulator
    emulator.faults.drop("POST", CHANNEL_MESSAGES)  # the "back in the queue" notice

    await start_bot(FakeGenerator())

    delivered = await video_posted(running, "interrupted")
    assert f"<@{running.alice.id}>" in delivered.content


async def test_shutdown_does_not_wait_out_the_grace_period_for_recovered_jobs_still_in_line(
    start_bot: StartBot,
) -> None:
    await stopped_mid_generation(start_bot, "interrupted")
    loading = FakeGenerator(hold_load=True)
    restarted = await start_bot(loading, shutdown_grace_s=60)
    await restarted.queue.pause()  # the recovered job stays in line while the model loads
    await loading.loading.arrived()
    closing = asyncio.create_task(restarted.bot.close())

    # Nothing is running, so nothing deserves the 60 s grace: closing ends with the model load, while
    # the clock stands still (had it waited for the grace, it would never end).
    loading.loading.open()
    await closing


async def test_a_video_whose_upload_was_cut_off_by_shutdown_is_posted_after_the_restart(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator(), shutdown_grace_s=0)
    emulator = running.emulator
    upload = emulator.faults.hold("PATCH", WEBHOOK_MESSAGE, times=100)  # every edit, the upload too
    events = running.queue.subscribe()
    await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "cut off"})
    async for event in events:
        if isinstance(event, JobFinished):  # on disk: the upload starts now
            break
    await emulator.wait_for(lambda: upload.holding > 0)
    # The upload is held through the deliveries' grace (a second at least): the video reaches nobody.
    await running.clock.run_until_done(running.bot.close(), step=1.0)
    emulator.faults.release(upload)

    await start_bot(FakeGenerator())

    delivered = await video_posted(running, "cut off")
    assert f"<@{running.alice.id}>" in delivered.content


@pytest.mark.local_only  # reads what the SQLite store owes
async def test_a_delivered_video_is_acknowledged_so_no_restart_posts_it_again(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator())
    await finished(
        running.emulator,
        await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "once"}),
    )
    await running.bot.close()

    assert await owed_at_next_start(running) == []


async def finished_during_shutdown(start_bot: StartBot) -> tuple[RunningBot, Interaction]:
    """Alice's job is running when the bot is told to stop, and finishes within the grace period."""
    running, interaction = await running_held(start_bot, "last -steps 30", shutdown_grace_s=30)
    closing = asyncio.create_task(running.bot.close())
    await running.doors.arrived("close")  # shutdown has begun: the queue takes no more jobs
    running.generator.steps.open()  # type: ignore[attr-defined]
    await closing
    return running, interaction


async def test_a_job_that_finishes_during_shutdown_still_reaches_its_user(start_bot: StartBot) -> None:
    _, interaction = await finished_during_shutdown(start_bot)

    assert interaction.original is not None
    assert interaction.original.attachments


@pytest.mark.local_only  # reads the SQLite store and the local worker task
async def test_a_video_delivered_during_shutdown_is_not_posted_again_after_the_restart(start_bot: StartBot) -> None:
    running, interaction = await finished_during_shutdown(start_bot)
    assert interaction.original is not None
    assert interaction.original.attachments  # uploaded after the queue had closed

    assert await owed_at_next_start(running) == []


async def crashed_mid_generation(start_bot: StartBot, prompt: str) -> RunningBot:
    """Alice's job is running when the process dies: no graceful close, so SQLite still says "running"."""
    running, _ = await running_held(start_bot, f"{prompt} -steps 15", job_max_attempts=1)

    async def die() -> None:
        worker = running.queue._worker_task
        assert worker is not None
        worker.cancel()

    running.queue.close = die  # type: ignore[method-assign]
    # The job never ends, so its delivery's grace (a second at least) runs out.
    await running.clock.run_until_done(running.bot.close(), step=1.0)
    return running


@pytest.mark.local_only  # a crash of the in-process worker (Redis: test_redis_only)
async def test_a_job_that_crashed_the_worker_is_reported_failed_after_restart(start_bot: StartBot) -> None:
    running = await crashed_mid_generation(start_bot, "doomed")
    emulator = running.emulator
    await start_bot(FakeGenerator(), job_max_attempts=1)

    report = await emulator.wait_for_message(
        channel_id=running.channel.id, predicate=lambda m: "Failed" in embed_text(m) and "doomed" in embed_text(m)
    )
    assert report.content == f"<@{running.alice.id}>"
    assert "crashed the worker" in embed_text(report)


@pytest.mark.local_only  # reads what the SQLite store owes
async def test_an_outcome_the_user_could_not_be_shown_is_shown_at_the_next_start(
    start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.delivery.tracker.RETRY_DELAYS_S", (0.01, 0.01, 0.01))
    running = await crashed_mid_generation(start_bot, "doomed")
    emulator = running.emulator
    unreachable = emulator.faults.drop("POST", CHANNEL_MESSAGES, times=4)  # the notice and its three retries
    first_restart = await start_bot(FakeGenerator(), job_max_attempts=1)
    await emulator.wait_for(lambda: unreachable.remaining == 0)
    await first_restart.bot.following.wait_until_settled()
    await first_restart.bot.close()

    await start_bot(FakeGenerator(), job_max_attempts=1)

    report = await emulator.wait_for_message(
        channel_id=running.channel.id, predicate=lambda m: "Failed" in embed_text(m) and "doomed" in embed_text(m)
    )
    assert "crashed the worker" in embed_text(report)


@pytest.mark.local_only  # reads what the SQLite store owes
async def test_an_outcome_refused_for_good_is_not_retried_at_every_start(start_bot: StartBot) -> None:
    running = await crashed_mid_generation(start_bot, "doomed")
    emulator = running.emulator
    refused = emulator.faults.refuse("POST", CHANNEL_MESSAGES, times=10)  # the bot lost Send Messages
    restarted = await start_bot(FakeGenerator(), job_max_attempts=1)
    await emulator.wait_for(lambda: refused.remaining == 9)
    await restarted.bot.following.wait_until_settled()
    await restarted.bot.close()

    assert await owed_at_next_start(running) == []


@pytest.mark.local_only  # reads what the SQLite store owes
async def test_a_video_refused_for_good_stays_owed_while_its_notice_could_not_be_posted(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator())
    emulator = running.emulator
    emulator.faults.refuse("PATCH", WEBHOOK_MESSAGE, status=400, code=40005, times=50)  # every edit, the upload too
    unposted = emulator.faults.drop("POST", CHANNEL_MESSAGES)  # the "upload failed" notice
    await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "too big"})
    await emulator.wait_for(lambda: unposted.remaining == 0)
    await running.bot.following.wait_until_settled()
    await running.bot.close()

    [owed] = await owed_at_next_start(running)
    assert owed.status is JobStatus.SUCCEEDED
