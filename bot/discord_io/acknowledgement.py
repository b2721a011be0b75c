"""The first answer to an interaction, on time whatever the handler is waiting for.

Discord drops an interaction nobody answers within 3 seconds ("The application did not respond"), and
a burst of requests on a busy host is exactly when a save, a lookup or the event loop itself runs late.
So every handler runs inside an `Acknowledgement`: if it has not answered `ACK_BUDGET_S` after the
interaction was created, the acknowledgement answers for it at once, as the handler's answer will
look: a public "thinking…" message when the answer is public (a queued video's status), an ephemeral
one when it is for the user only, or an ephemeral "busy, try again" where the answer had to come first
(a form). The handler's answer then fills in the deferred message. One lock orders the deferral and the
handler's answers, so an interaction is answered exactly once.

An ephemeral error after a public deferral cannot turn the "thinking…" message private: it is deleted
and the error follows privately, so no refusal is ever shown to the channel.

In a burst, handlers take turns (`AnswerTurns`): at most `ANSWER_TURNS` work toward their first answer
at once, in the order their interactions arrived, and each gives its turn up as soon as its answer is
ready to send. Unbounded, a thousand handlers would share the event loop round-robin and all answer
near the end of the burst; in turns the early ones answer early and the loop's queue of ready
callbacks stays short. An interaction that waits for its turn past `ACK_BUDGET_S` is deferred.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

import discord

from bot.discord_io.calls import DISCORD_FAILURES, describe
from bot.i18n import marked, speaker_for, speaking
from generation.clock import Clock

log = logging.getLogger(__name__)

ACK_BUDGET_S: Final = 0.5
"""How long after its creation an interaction may wait for its handler's own answer before it is deferred."""

DISCORD_DEADLINE_S: Final = 3.0
"""Discord drops an interaction not answered this long after its creation."""

ANSWER_TURNS: Final = 32
"""How many handlers work toward their first answer at once (see the module docstring). Enough that a
few slow picture downloads or Redis round trips do not hold up the line, few enough that a loop
iteration runs a bounded number of handler steps."""

ALREADY_ACKNOWLEDGED: Final = 40060
"""Discord's answer to a second response to one interaction: the first (perhaps a retried one) got through."""

BUSY_TEXT: Final = marked("I'm very busy right now and couldn't open that in time. Please try again in a moment.")

_EXTRAS_KEY: Final = "videobot.acknowledgement"
_NO_PINGS: Final = discord.AllowedMentions.none()


class AnswerTurns:
    """Turns to work toward a first answer, `limit` at a time, handed out in the order they were asked for."""

    def __init__(self, limit: int = ANSWER_TURNS) -> None:
        # asyncio's semaphore queues its waiters first come, first served, and a newcomer never jumps them.
        self._slots = asyncio.Semaphore(limit)

    async def take(self) -> Turn:
        """Wait for a turn; give it back with `Turn.give_back`."""
        await self._slots.acquire()
        return Turn(self._slots)


class Turn:
    """One turn of `AnswerTurns`, held until given back."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots: asyncio.Semaphore | None = slots

    def give_back(self) -> None:
        """Let the next waiter have the turn; a second call does nothing."""
        if self._slots is not None:
            self._slots.release()
            self._slots = None


class Deferral(enum.Enum):
    """How to answer for a handler that runs out of budget."""

    PUBLIC = "a public thinking message, filled in with the public answer"
    EPHEMERAL = "an ephemeral thinking message, filled in with the private answer"
    BUSY = "an ephemeral busy notice; the handler's answer (a form) is then dropped"


class AnswerVisibility(enum.Enum):
    """What the user saw of an answer."""

    SHOWN = "the answer, or a deferral it fills in, reached the user"
    NOT_SHOWN = "Discord refused the first response: the user saw nothing"
    UNKNOWN = "the connection dropped before Discord's reply: look before deciding"


@dataclass(frozen=True)
class Answer:
    """The outcome of `Acknowledgement.respond`."""

    shown: AnswerVisibility
    message_id: int | None = None
    error: BaseException | None = None


class _State(enum.Enum):
    PENDING = "nothing sent yet"
    ANSWERED = "the handler's answer was the first response"
    DEFERRED = "a deferral went out; answers edit it"
    BUSY = "the busy notice went out; the handler's answer is dropped"
    LOST = "the first response failed"


class Acknowledgement:
    """One interaction's answers; see the module docstring. Build it with `acknowledged(...)`."""

    def __init__(
        self, interaction: discord.Interaction[Any], clock: Clock, deferral: Deferral, budget_s: float
    ) -> None:
        self.interaction = interaction
        self._clock = clock
        self._deferral = deferral
        self._budget_s = budget_s
        self._lock = asyncio.Lock()
        self._state = _State.PENDING
        self._first_error: BaseException | None = None
        self._deferred_message_id: int | None = None
        self._closed = False
        self._turn: Turn | None = None

    def _answer_ready(self) -> None:
        """The handler's answer is built: the rest is a Discord call, which needs no turn."""
        if self._turn is not None:
            self._turn.give_back()
            self._turn = None

    @property
    def deferred(self) -> bool:
        """True once a deferral (not the handler's own answer) was the first response."""
        return self._state is _State.DEFERRED

    def remaining_s(self) -> float:
        """Seconds of the budget left, counted from the interaction's creation on Discord's clock."""
        age = self._clock.time() - self.interaction.created_at.timestamp()
        # A host clock off from Discord's could make the age absurd; then count from now. An age within
        # Discord's deadline is believed: an interaction that waited in a burst is already late.
        age = age if 0.0 <= age <= DISCORD_DEADLINE_S else 0.0
        return self._budget_s - age

    async def respond(
        self,
        *,
        content: str | None = None,
        embed: discord.Embed | None = None,
        view: discord.ui.View | None = None,
        ephemeral: bool = False,
    ) -> Answer:
        """Send the handler's answer: as the first response, or by filling in the deferral.

        Never raises for a failed Discord call; the `Answer` says what the user saw.
        """
        self._answer_ready()
        async with self._lock:
            if self._state is _State.PENDING:
                return await self._first_response(content, embed, view, ephemeral)
            if self._state is _State.BUSY:
                return Answer(AnswerVisibility.NOT_SHOWN)
            return await self._fill_in(content, embed, view)

    async def refuse(self, text: str) -> None:
        """Tell only the user that their request went nowhere (an expected error, a refusal)."""
        text = text[:2000]
        self._answer_ready()
        async with self._lock:
            try:
                if self._state is _State.PENDING or self._state is _State.LOST:
                    await self.interaction.response.send_message(text, ephemeral=True, allowed_mentions=_NO_PINGS)
                    self._state = _State.ANSWERED
                elif self._state is _State.DEFERRED and self._deferral is Deferral.PUBLIC:
                    # The public "thinking…" message cannot become private: remove it, then answer privately.
                    with contextlib.suppress(discord.NotFound):
                        await self.interaction.delete_original_response()
                    await self.interaction.followup.send(text, ephemeral=True, allowed_mentions=_NO_PINGS)
                elif self._state is _State.DEFERRED:
                    await self.interaction.edit_original_response(content=text, allowed_mentions=_NO_PINGS)
                else:
                    await self.interaction.followup.send(text, ephemeral=True, allowed_mentions=_NO_PINGS)
            except DISCORD_FAILURES as error:
                log.warning(
                    "could not send an error reply to user_id=%s: %s", self.interaction.user.id, describe(error)
                )

    async def open_modal(self, modal: discord.ui.Modal) -> bool:
        """Show `modal` as the first response; False if the busy notice had to go first."""
        self._answer_ready()
        async with self._lock:
            if self._state is not _State.PENDING:
                return False
            await self.interaction.response.send_modal(modal)
            self._state = _State.ANSWERED
            return True

    async def _first_response(
        self, content: str | None, embed: discord.Embed | None, view: discord.ui.View | None, ephemeral: bool
    ) -> Answer:
        try:
            response = await self.interaction.response.send_message(
                content,
                embed=embed if embed is not None else discord.utils.MISSING,
                view=view if view is not None else discord.utils.MISSING,
                ephemeral=ephemeral,
                allowed_mentions=_NO_PINGS,
            )
        except DISCORD_FAILURES as error:
            self._state = _State.LOST
            self._first_error = error
            return Answer(_seen_after(error), error=error)
        self._state = _State.ANSWERED
        return Answer(AnswerVisibility.SHOWN, response.message_id if response is not None else None)

    async def _fill_in(self, content: str | None, embed: discord.Embed | None, view: discord.ui.View | None) -> Answer:
        try:
            message = await self.interaction.edit_original_response(
                content=content,
                embed=embed if embed is not None else discord.utils.MISSING,
                view=view,
                allowed_mentions=_NO_PINGS,
            )
        except DISCORD_FAILURES as error:
            if self._state is _State.DEFERRED:
                # The "thinking…" message is there; whoever edits it next shows the state.
                log.warning("could not fill in a deferred answer: %s", describe(error))
                return Answer(AnswerVisibility.SHOWN, self._deferred_message_id, error)
            return Answer(_seen_after(self._first_error or error), error=self._first_error or error)
        if self._state is _State.LOST:
            self._state = _State.DEFERRED  # the deferral did get through: its answer was what was lost
        return Answer(AnswerVisibility.SHOWN, message.id)

    async def _answer_for_the_handler(self) -> None:
        """At the deadline, if the handler has not answered: defer, or say busy."""
        await self._clock.sleep(self.remaining_s())
        async with self._lock:
            if self._state is not _State.PENDING or self._closed:
                return
            try:
                if self._deferral is Deferral.BUSY:
                    busy = speaker_for(self.interaction.locale).say(BUSY_TEXT)
                    await self.interaction.response.send_message(busy, ephemeral=True, allowed_mentions=_NO_PINGS)
                    self._state = _State.BUSY
                    return
                response = await self.interaction.response.defer(
                    ephemeral=self._deferral is Deferral.EPHEMERAL, thinking=True
                )
            except DISCORD_FAILURES as error:
                self._state = _State.LOST
                self._first_error = error
                log.warning("could not defer interaction_id=%s: %s", self.interaction.id, describe(error))
                return
            self._state = _State.DEFERRED
            self._deferred_message_id = response.message_id if response is not None else None
            # DEBUG: the job's "job acknowledged" line says deferred=True; one INFO line per interaction.
            log.debug(
                "interaction deferred interaction_id=%s user_id=%s guild_id=%s",
                self.interaction.id,
                self.interaction.user.id,
                self.interaction.guild_id,
            )

    async def _close(self) -> None:
        async with self._lock:
            self._closed = True


@contextlib.asynccontextmanager
async def acknowledged(
    interaction: discord.Interaction[Any],
    clock: Clock,
    deferral: Deferral,
    *,
    budget_s: float = ACK_BUDGET_S,
    turns: AnswerTurns | None = None,
) -> AsyncIterator[Acknowledgement]:
    """Run a handler with an `Acknowledgement` that answers for it if it runs out of budget.

    With `turns`, the handler starts once it has a turn and holds it until its first answer (or its
    end); the budget counts from the interaction's creation all the same, so waiting for a turn past it
    is answered by a deferral.

    The acknowledgement is also kept on the interaction, so the central error handler answers through it.
    The handler runs speaking the member's language (`bot.i18n.speaking`): what it builds without a
    speaker of its own, and the tasks it starts (its status message), say it in that language.
    """
    ack = Acknowledgement(interaction, clock, deferral, budget_s)
    interaction.extras[_EXTRAS_KEY] = ack
    timer = asyncio.create_task(ack._answer_for_the_handler(), name=f"acknowledge-{interaction.id}")
    try:
        if turns is not None:
            ack._turn = await turns.take()
        with speaking(speaker_for(interaction.locale)):
            yield ack
    finally:
        ack._answer_ready()
        # Wait out a deferral already on its way (cancelling it mid-request would leave its fate unknown).
        await asyncio.shield(ack._close())
        timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timer


def acknowledgement_of(interaction: discord.Interaction[Any]) -> Acknowledgement | None:
    """The acknowledgement a handler opened for `interaction`, if any."""
    ack = interaction.extras.get(_EXTRAS_KEY)
    return ack if isinstance(ack, Acknowledgement) else None


def _seen_after(error: BaseException) -> AnswerVisibility:
    """What the user saw when the first response failed with `error`."""
    if isinstance(error, discord.HTTPException):
        return AnswerVisibility.SHOWN if error.code == ALREADY_ACKNOWLEDGED else AnswerVisibility.NOT_SHOWN
    return AnswerVisibility.UNKNOWN
