"""A waiting job's place in line: edited at most once per POSITION_EDIT_INTERVAL_S, always with the latest place."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable

import pytest

from generation.queue.interface import JobEvent, JobQueued, Person
from tests.discord_emulator import Interaction, Message, User
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import STATUS_EDIT_INTERVAL_S, RunningBot, StartBot
from tests.patience import PATIENCE_S

POSITION_INTERVAL_S = 5.0

pytestmark = pytest.mark.local_only  # the gate reads the in-process queue's event streams


class HandledEvents:
    """Wraps `JobQueue.watch` so a test knows which events each job's tracker has handled: an event
    counts once the tracker has taken it and asked for the next one."""

    def __init__(self, watch: Callable[[str], AsyncIterator[JobEvent]]) -> None:
        self._watch = watch
        self.handled: dict[str, list[JobEvent]] = defaultdict(list)
        self.followed: set[str] = set()
        self._changed = asyncio.Condition()

    def watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        """`JobQueue.watch`, noting what the reader has handled."""
        return self._read(job_id)

    async def _read(self, job_id: str) -> AsyncIterator[JobEvent]:
        async with self._changed:
            self.followed.add(job_id)  # a tracker reads its events once its status message is attached
            self._changed.notify_all()
        async for event in self._watch(job_id):
            yield event
            async with self._changed:
                self.handled[job_id].append(event)
                self._changed.notify_all()

    async def attached(self, job_id: str) -> None:
        """Until the tracker of `job_id` has attached its status message (and counts its interval from it)."""
        async with asyncio.timeout(PATIENCE_S), self._changed:
            await self._changed.wait_for(lambda: job_id in self.followed)

    async def place_handled(self, job_id: str, position: int) -> None:
        """Until the tracker of `job_id` has handled the announcement of `position`."""

        def seen() -> bool:
            return any(isinstance(e, JobQueued) and e.position == position for e in self.handled[job_id])

        async with asyncio.timeout(PATIENCE_S), self._changed:
            await self._changed.wait_for(seen)


async def start(start_bot: StartBot) -> tuple[RunningBot, HandledEvents, FakeGenerator]:
    """A bot whose first job (Alice's) is running, held at its first step, so the others wait."""
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(
        generator, position_edit_interval_s=POSITION_INTERVAL_S, status_edit_interval_s=STATUS_EDIT_INTERVAL_S
    )
    events = HandledEvents(running.queue.watch)
    running.doors.watch = events.watch  # type: ignore[method-assign]  # what the bot's trackers read
    first = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "first"})
    await first.wait_for_response()
    await generator.steps.arrived(1)
    return running, events, generator


def member(running: RunningBot, name: str) -> User:
    user = running.emulator.add_user(name)
    running.emulator.add_member(running.guild, user)
    return user


async def ask(running: RunningBot, user: User, prompt: str) -> tuple[Interaction, str]:
    """`user` asks for a video; its acknowledged interaction and its job id."""
    interaction = await running.emulator.invoke_slash(user, running.channel, "video", {"prompt": prompt})
    await interaction.wait_for_response()
    for info in await running.queue.active():
        if info.spec.request.prompt == prompt:
            return interaction, info.job_id
    raise AssertionError(f"no job for {prompt!r}")


def places_shown(message: Message | None) -> list[int]:
    """The place in line each edit of `message` showed, oldest first."""
    assert message is not None
    return [
        int(field["value"].lstrip("#"))
        for edit in message.edits
        for embed in edit.embeds
        for field in embed.get("fields", [])
        if field["name"] == "Position"
    ]


async def position(running: RunningBot, job_id: str) -> int:
    place = (await running.queue.get(job_id)).position
    assert place is not None
    return place


async def test_many_admissions_in_one_interval_edit_each_waiting_status_once_with_its_latest_place(
    start_bot: StartBot,
) -> None:
    running, events, _ = await start(start_bot)
    # Bob's three jobs wait in a row; every newcomer's first job goes ahead of Bob's second and third.
    bobs = [await ask(running, running.bob, f"bob {n}") for n in range(3)]
    before = {job_id: await position(running, job_id) for _, job_id in bobs}
    for name in ("carol", "dave", "erin"):
        await ask(running, member(running, name), f"{name}'s")
    moved = [(i, job_id) for i, job_id in bobs if await position(running, job_id) != before[job_id]]
    assert len(moved) == 2  # the first stays in front; the other two moved back with every admission
    for _, job_id in moved:
        await events.place_handled(job_id, await position(running, job_id))
    assert all(places_shown(i.original) == [] for i, _ in moved)  # nothing sent before the interval is up

    running.clock.advance(POSITION_INTERVAL_S)

    for interaction, job_id in moved:
        latest = await position(running, job_id)
        await running.emulator.wait_for(lambda i=interaction: bool(places_shown(i.original)))
        assert places_shown(interaction.original) == [latest]  # one edit, the places in between never sent


async def test_the_latest_place_is_shown_at_the_next_interval_when_it_came_just_after_an_edit(
    start_bot: StartBot,
) -> None:
    running, events, _ = await start(start_bot)
    _, bobs = await ask(running, running.bob, "bob's")
    _, carols = await ask(running, member(running, "carol"), "carol's")
    dave, daves = await ask(running, member(running, "dave"), "dave's")
    await events.attached(daves)
    running.clock.advance(POSITION_INTERVAL_S)  # the acknowledgement's place (#3) has been up a while

    await running.queue.cancel(bobs, Person("bob"))
    await running.emulator.wait_for(lambda: places_shown(dave.original) == [2])  # at once: the interval had passed
    await running.queue.cancel(carols, Person("carol"))
    await events.place_handled(daves, 1)
    await running.clock.wait_for_sleepers(due_within=POSITION_INTERVAL_S)  # the editor waits out the interval
    assert places_shown(dave.original) == [2]

    running.clock.advance(POSITION_INTERVAL_S)

    await running.emulator.wait_for(lambda: places_shown(dave.original) == [2, 1])
    assert dave.original is not None
    first, second = (edit.at for edit in dave.original.edits)
    assert (second - first).total_seconds() == pytest.approx(POSITION_INTERVAL_S)
