"""A role perk's weight through the emulator, on both backends: its members take that many turns a round
in the fair order that `/queue` shows (and the GPU follows), and everyone else still gets a turn each round."""

from __future__ import annotations

from tests.discord_emulator.models import User
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import RunningBot, StartBot, ephemeral_reply

MANAGE_GUILD = 1 << 5


async def submit(running: RunningBot, user: User, prompt: str) -> None:
    interaction = await running.emulator.invoke_slash(user, running.channel, "video", {"prompt": prompt})
    await interaction.wait_for_response()


async def test_a_role_with_weight_two_takes_two_turns_a_round_and_others_still_get_theirs(start_bot: StartBot) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator, queue_max_per_user=5)
    admin = running.emulator.add_user("admin")
    running.emulator.add_member(running.guild, admin, permissions=MANAGE_GUILD)
    boosters = running.emulator.add_role(running.guild, "Boosters")
    carol = running.emulator.add_user("carol")
    running.emulator.add_member(running.guild, carol, roles=[boosters])
    perk = await running.emulator.invoke_slash(
        admin, running.channel, "videoadmin rules perk", {"role": boosters, "weight": 2}
    )
    await ephemeral_reply(perk)
    await submit(running, running.alice, "alice one -steps 30")
    await generator.steps.arrived(1)  # alice's job holds the GPU while the line forms
    for prompt in ("carol one", "carol two", "carol three", "carol four"):
        await submit(running, carol, prompt)
    for prompt in ("bob one", "bob two"):
        await submit(running, running.bob, prompt)

    listing = await ephemeral_reply(await running.emulator.invoke_slash(running.bob, running.channel, "queue", {}))

    order = [line.split(" · ")[2] for line in listing.strip().splitlines()]
    assert order == ["alice one", "carol one", "carol two", "bob one", "carol three", "carol four", "bob two"]
