"""Turns to work toward a first answer: handed out first come, first served, `limit` at a time.

These drive `AnswerTurns` on its own; `tests/bot/test_answer_turns.py` has it answer a burst through the
emulator. Handing over a turn is one step of the event loop (`asyncio.sleep(0)`), not a wait on time.
"""

from __future__ import annotations

import asyncio

from bot.discord_io.acknowledgement import AnswerTurns


async def test_turns_go_to_the_waiters_in_the_order_they_asked() -> None:
    turns = AnswerTurns(limit=1)
    holder = await turns.take()
    served: list[str] = []

    async def wait(name: str) -> None:
        turn = await turns.take()
        served.append(name)
        turn.give_back()

    waiters = [asyncio.create_task(wait(name)) for name in ("first", "second", "third")]
    await asyncio.sleep(0)  # each has asked, in order
    holder.give_back()
    await asyncio.gather(*waiters)

    assert served == ["first", "second", "third"]


async def test_at_most_limit_turns_are_out_at_once() -> None:
    turns = AnswerTurns(limit=2)
    taken = [await turns.take(), await turns.take()]
    third = asyncio.create_task(turns.take())
    await asyncio.sleep(0)

    assert not third.done()
    taken[0].give_back()
    (await third).give_back()


async def test_a_turn_given_back_twice_frees_one_turn() -> None:
    turns = AnswerTurns(limit=1)
    turn = await turns.take()
    turn.give_back()
    turn.give_back()
    again = await turns.take()
    late = asyncio.create_task(turns.take())
    await asyncio.sleep(0)

    assert not late.done()
    again.give_back()
    (await late).give_back()
