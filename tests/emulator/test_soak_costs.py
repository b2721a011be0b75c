"""The emulator's work per request does not grow with the interactions it has seen.

A soak (`bench.soak_bench`) sends the emulator tens of thousands of webhook calls, each naming its
interaction by token. Found by the soak: the lookup scanned every interaction so far, so the emulator
took more CPU with every video, and on a shared 2-core machine that CPU came out of the bot's GPU
process (nice 10), whose denoise and decode times grew while the bot's own encode stayed flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

from tests.discord_emulator.models import Interaction, InteractionType
from tests.discord_emulator.state import EmulatorState


class _NoScan(dict[int, Interaction]):
    """The interactions, refusing to be walked: a lookup must find its one entry directly."""

    def _scanned(self) -> NoReturn:
        raise AssertionError("the lookup walked every interaction the emulator has seen")

    def __iter__(self) -> Iterator[int]:
        self._scanned()

    def values(self) -> NoReturn:
        self._scanned()

    def items(self) -> NoReturn:
        self._scanned()


def test_a_webhook_token_finds_its_interaction_without_walking_the_others() -> None:
    state = EmulatorState()
    guild = state.add_guild("g", attachment_size_limit=10 * 1024 * 1024)
    channel = state.add_channel(guild, "videos", nsfw=False, bot_permissions=None)
    user = state.add_user("ann")
    made = []
    for n in range(500):
        interaction = Interaction(
            id=state.ids.next(), token=f"token-{n}", type=InteractionType.APPLICATION_COMMAND, user=user,
            channel=channel, data={}, created_at=0.0, respond_by=None, expires_at=900.0, _state=state,
        )  # fmt: skip
        state.add_interaction(interaction)
        made.append(interaction)
    state.interactions = _NoScan(state.interactions)

    assert state.interaction_by_token("token-0") is made[0]
    assert state.interaction_by_token("token-499") is made[-1]
    assert state.interaction_by_token("no-such-token") is None
