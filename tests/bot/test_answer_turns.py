"""A burst is answered in turns: `ANSWER_TURNS` handlers at a time work toward their first answer.

Each gives its turn up once its answer is ready to send, so a slow Discord call holds up nobody, and
one that waits for a turn past the budget is deferred like any slow handler. The slow parts are held
at doors (the queue's `submit`, Discord's callback route), never timed.
"""

from __future__ import annotations

from bot.discord_io.acknowledgement import ACK_BUDGET_S, ANSWER_TURNS
from tests.discord_emulator import Interaction
from tests.discord_emulator.models import User
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import RunningBot, StartBot, embed_text

INTERACTION_CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
DEFERRED_CHANNEL_MESSAGE = 5
CHANNEL_MESSAGE = 4


def members(running: RunningBot, count: int) -> list[User]:
    """`count` new members of the test's server (one job each keeps every per-member limit out of it)."""
    users = [running.emulator.add_user(f"member{n}") for n in range(count)]
    for user in users:
        running.emulator.add_member(running.guild, user)
    return users


async def ask(running: RunningBot, user: User, prompt: str) -> Interaction:
    return await running.emulator.invoke_slash(user, running.channel, "video", {"prompt": prompt})


async def test_a_request_waiting_for_a_turn_past_the_budget_is_deferred_then_shown_queued(
    start_bot: StartBot,
) -> None:
    running = await start_bot(FakeGenerator(hold_steps=True))
    *busy, late = members(running, ANSWER_TURNS + 1)
    running.doors.hold("submit")
    earlier = [await ask(running, user, f"a cat {n}") for n, user in enumerate(busy)]
    await running.doors.arrived("submit", ANSWER_TURNS)

    waiting = await ask(running, late, "the last cat")
    await running.clock.advance_past(ACK_BUDGET_S)

    assert (await waiting.wait_for_response()).type == DEFERRED_CHANNEL_MESSAGE
    assert running.doors.arrivals("submit") == ANSWER_TURNS  # every turn is out: it has not started
    running.doors.release("submit")
    await running.emulator.wait_for(lambda: all("Queued" in embed_text(i.original) for i in [*earlier, waiting]))
    assert len(waiting.callbacks) == 1


async def test_a_handler_gives_its_turn_up_before_its_answer_reaches_discord(start_bot: StartBot) -> None:
    running = await start_bot(FakeGenerator(hold_steps=True))
    *held, last = members(running, ANSWER_TURNS + 1)
    in_flight = running.emulator.faults.hold("POST", INTERACTION_CALLBACK, times=ANSWER_TURNS)
    stuck = [await ask(running, user, f"a dog {n}") for n, user in enumerate(held)]
    await running.emulator.wait_for(lambda: in_flight.holding == ANSWER_TURNS)

    answered = await ask(running, last, "the last dog")

    assert (await answered.wait_for_response()).type == CHANNEL_MESSAGE
    assert not any(interaction.callbacks for interaction in stuck)  # all still on their way to Discord
    running.emulator.faults.release(in_flight)
    for interaction in stuck:
        assert (await interaction.wait_for_response()).type == CHANNEL_MESSAGE
