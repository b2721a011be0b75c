"""`/video` end to end: the real bot and queue, the Discord emulator, and a generator behind them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from generation.protocol import CancelToken, ProgressCallback, VideoGenerator
from generation.queue.interface import JobCancelled, JobFailed, JobFinished
from generation.request import VideoRequest
from generation.results import GeneratedClip
from tests.discord_emulator import DiscordEmulator
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import StartBot, decode_mp4, embed_text, ephemeral_reply, finished, has_video

INTERACTION_CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
ORIGINAL_RESPONSE = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"


async def test_video_with_the_tiny_pipeline_replies_with_a_playable_mp4(
    start_bot: StartBot, tiny_generator: VideoGenerator
) -> None:
    running = await start_bot(tiny_generator)

    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "Spiderman is surfing", "frames": 8, "steps": 3}
    )

    await finished(running.emulator, interaction)
    message = interaction.original
    assert message is not None
    assert decode_mp4(message.attachments[0].data) == ("h264", "yuv420p", 8, 64, 64)
    text = embed_text(message)
    assert "Spiderman is surfing" in text
    assert "3 steps · 8 frames" in text
    assert "seed " in text
    assert "seed random" not in text


async def test_five_users_in_two_guilds_each_get_their_own_video_in_submission_order(
    start_bot: StartBot, discord_emulator: DiscordEmulator, tiny_generator: VideoGenerator
) -> None:
    second_guild = discord_emulator.add_guild("Skate club")
    second_channel = discord_emulator.add_channel(second_guild, "clips")
    running = await start_bot(tiny_generator, guilds=[second_guild])
    users = [running.alice, running.bob, *(discord_emulator.add_user(name) for name in ("cy", "di", "ed"))]
    for user in users[2:]:
        discord_emulator.add_member(running.guild, user)
    for user in users[3:]:
        discord_emulator.add_member(second_guild, user)
    places = [running.channel, running.channel, running.channel, second_channel, second_channel]

    interactions = await asyncio.gather(
        *(
            discord_emulator.invoke_slash(
                user, channel, "video", {"prompt": f"video for {user.username}", "steps": 2, "frames": 4}
            )
            for user, channel in zip(users, places, strict=True)
        )
    )

    await asyncio.gather(*(finished(discord_emulator, interaction) for interaction in interactions))
    for user, interaction in zip(users, interactions, strict=True):
        message = interaction.original
        assert message is not None
        assert message.channel_id == interaction.channel.id
        assert f"video for {user.username}" in embed_text(message)
        assert len(message.attachments) == 1
        assert decode_mp4(message.attachments[0].data)[2] == 4
    # Five different users: round-robin is first come, first served, in the order the queue took them.
    jobs = await running.queue.history(limit=10)
    by_submission = [info.job_id for info in sorted(jobs, key=lambda info: info.submitted_at)]
    by_start = [info.job_id for info in sorted(jobs, key=lambda info: info.started_at or 0.0)]
    assert len(jobs) == 5
    assert by_start == by_submission


async def test_a_failed_generation_is_reported_and_the_next_job_still_runs(start_bot: StartBot) -> None:
    running = await start_bot()
    emulator = running.emulator

    failing = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "FAIL please"})
    fine = await emulator.invoke_slash(running.bob, running.channel, "video", {"prompt": "a calm sea"})

    await finished(running.emulator, fine)
    await emulator.wait_for(lambda: "Failed" in embed_text(failing.original))
    assert failing.original is not None
    assert not failing.original.attachments
    assert "Reason" in embed_text(failing.original)


async def test_an_acknowledgement_lost_on_the_network_takes_the_job_back_and_says_so(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator(hold_steps=True))  # still running when it is taken back
    running.emulator.faults.drop("POST", INTERACTION_CALLBACK)
    events = running.queue.subscribe()

    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "unannounced -steps 20"}
    )

    assert "didn't queue it" in await ephemeral_reply(interaction)
    async for ended in events:
        if isinstance(ended, JobFinished | JobFailed | JobCancelled):
            break
    assert isinstance(ended, JobCancelled)
    assert ended.by == "system"


async def test_an_acknowledgement_whose_answer_was_lost_keeps_the_job_the_user_can_see(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator())
    running.emulator.faults.drop("POST", INTERACTION_CALLBACK, after_serving=True)

    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "seen"})

    await finished(running.emulator, interaction)
    assert len(interaction.callbacks) == 1  # no error reply on top of the status message


async def test_an_acknowledgement_served_but_answered_with_a_server_error_keeps_the_job(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator())
    # discord.py retries the 502, and the retry is told the interaction was already acknowledged.
    running.emulator.faults.fail("POST", INTERACTION_CALLBACK, status=502, after_serving=True)

    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "seen"})

    await finished(running.emulator, interaction)
    assert len(interaction.callbacks) == 1


async def test_an_acknowledgement_known_to_have_got_through_is_never_taken_back(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator())
    running.emulator.faults.fail("POST", INTERACTION_CALLBACK, status=502, after_serving=True)
    # ... and its message cannot be looked up (aiohttp retries an idempotent GET once by itself).
    running.emulator.faults.drop("GET", ORIGINAL_RESPONSE, times=2)

    await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "seen for sure"})

    posted = await running.emulator.wait_for_message(
        channel_id=running.channel.id, predicate=lambda m: "seen for sure" in embed_text(m) and has_video(m)
    )
    assert f"<@{running.alice.id}>" in posted.content


async def test_the_reply_arrives_although_the_gateway_dropped_mid_generation(start_bot: StartBot) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator)
    emulator = running.emulator
    interaction = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a storm"})
    await generator.steps.arrived(1)

    await emulator.faults.close_gateway()
    generator.steps.open()

    await finished(running.emulator, interaction)
    await emulator.wait_for(lambda: emulator.gateway.connected)
    assert emulator.gateway.resume_count + emulator.gateway.identify_count >= 2


class ThreadRecordingGenerator(FakeGenerator):
    """Remembers which thread each blocking call ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def load(self) -> float:
        self.threads.add(threading.get_ident())
        return super().load()

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        self.threads.add(threading.get_ident())
        return super().generate(requests, on_progress, cancel)


async def test_loading_and_generating_never_run_on_the_event_loops_thread(start_bot: StartBot) -> None:
    generator = ThreadRecordingGenerator()
    running = await start_bot(generator)

    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a lighthouse"}
    )

    await finished(running.emulator, interaction)
    # A blocking call on the loop would stall the Discord heartbeat (how long it stalls is
    # `bench.ack_bench`'s business; that it never happens is this test's).
    assert generator.threads
    assert threading.get_ident() not in generator.threads


async def test_a_prompt_that_mentions_everyone_pings_nobody(start_bot: StartBot) -> None:
    running = await start_bot()
    emulator = running.emulator
    prompt = f"@everyone @here <@{running.bob.id}> party"

    interaction = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": prompt})

    await finished(running.emulator, interaction)
    assert interaction.original is not None
    for message in [interaction.original, *emulator.messages(running.channel)]:
        assert not emulator.pings(message).anyone
