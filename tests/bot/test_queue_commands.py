"""`/queue`, `/cancel`, `/history` and the admin commands, through the emulator."""

from __future__ import annotations

from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import RunningBot, StartBot, embed_text, ephemeral_reply, finished

MANAGE_GUILD = 1 << 5


async def submit(running: RunningBot, user: object, prompt: str) -> None:
    interaction = await running.emulator.invoke_slash(user, running.channel, "video", {"prompt": prompt})  # type: ignore[arg-type]
    await interaction.wait_for_response()


async def test_queue_lists_jobs_in_fair_round_robin_order(start_bot: StartBot) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator)
    await submit(running, running.alice, "alice one -steps 30")
    await generator.steps.arrived(1)  # alice's first job is running
    for prompt in ("alice two", "alice three"):
        await submit(running, running.alice, prompt)
    await submit(running, running.bob, "bob one")

    listing = await ephemeral_reply(await running.emulator.invoke_slash(running.bob, running.channel, "queue", {}))

    lines = listing.strip().splitlines()
    order = [line.split(" · ")[2] for line in lines]
    # Alice already has a job running, so Bob's first job goes before her second.
    assert order == ["alice one", "bob one", "alice two", "alice three"]
    assert lines[0].startswith("▶️ now")


async def test_cancel_command_cancels_only_the_callers_jobs(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator(hold_steps=True))
    await submit(running, running.bob, "bob long -steps 30")
    await submit(running, running.alice, "alice one")
    await submit(running, running.alice, "alice two")

    reply = await ephemeral_reply(await running.emulator.invoke_slash(running.alice, running.channel, "cancel", {}))

    assert reply == "Cancelled 2 video(s)."
    assert [info.spec.owner_id for info in await running.queue.active()] == [str(running.bob.id)]


async def test_history_lists_the_callers_finished_videos_with_their_seeds(start_bot: StartBot) -> None:
    running = await start_bot()
    interaction = await running.emulator.invoke_slash(
        running.alice, running.channel, "video", {"prompt": "a heron -seed 99"}
    )
    await finished(running.emulator, interaction)

    mine = await ephemeral_reply(await running.emulator.invoke_slash(running.alice, running.channel, "history", {}))
    theirs = await ephemeral_reply(await running.emulator.invoke_slash(running.bob, running.channel, "history", {}))

    assert "succeeded · seed 99 · a heron" in mine
    assert theirs == "\nYou have no finished videos yet."


async def test_admin_commands_refuse_members_without_manage_server(start_bot: StartBot) -> None:
    running = await start_bot()

    reply = await ephemeral_reply(
        await running.emulator.invoke_slash(running.alice, running.channel, "videoadmin pause", {})
    )

    assert "Manage Server" in reply
    assert not (await running.queue.stats()).paused


async def test_admins_pause_resume_clear_and_read_stats(start_bot: StartBot) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator)
    emulator = running.emulator
    admin = emulator.add_user("admin")
    emulator.add_member(running.guild, admin, permissions=MANAGE_GUILD)

    async def admin_says(command: str) -> str:
        return await ephemeral_reply(await emulator.invoke_slash(admin, running.channel, command, {}))

    assert "paused" in await admin_says("videoadmin pause")
    refused = await emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat"})
    assert "paused" in (await ephemeral_reply(refused)).lower()
    assert await admin_says("videoadmin resume") == "Queue resumed."
    await submit(running, running.alice, "running one -steps 30")
    await generator.steps.arrived(1)
    await submit(running, running.bob, "waiting one")
    assert await admin_says("videoadmin clear") == "Cleared 1 waiting video(s)."
    stats = await emulator.invoke_slash(admin, running.channel, "videoadmin stats", {})
    callback = await stats.wait_for_response()
    assert callback.data is not None
    fields = {field["name"]: field["value"] for field in callback.data["embeds"][0]["fields"]}
    assert (fields["Cancelled"], fields["Running"], fields["GPU memory in use"]) == ("1", "1", "1.00 GiB")
    [workers] = [value for name, value in fields.items() if name.startswith("Workers (1 of 1 alive)")]
    assert " up " in workers
    assert "Cancelled" in embed_text(
        next(m for m in emulator.messages(running.channel) if "waiting one" in embed_text(m))
    )
