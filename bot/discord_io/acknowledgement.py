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

ALREADY_ACKNOWLEDGED: Final = 40060
"""Discord's answer to a second response to one interaction: the first (perhaps a retried one) got through."""

BUSY_TEXT: Final = marked("I'm very busy right now and couldn't open that in time. Please try again in a moment.")

_EXTRAS_KEY: Final = "videobot.acknowledgement"
_NO_PINGS: Final = discord.AllowedMentions.none()


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

    @property
    def deferred(self) -> bool:
        """True once a deferral (not the handler's own answer) was the first response."""
        return self._state is _State.DEFERRED

    def remaining_s(self) -> float:
        """Seconds of the budget left, counted from the interaction's creation on Discord's clock."""
        age = self._clock.time() - self.interaction.created_at.timestamp()
        # A host clock off from Discord's could make the age absurd; then count from now.
        age = age if 0.0 <= age <= self._budget_s else 0.0
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
        async with self._lock:
            if self._state is _State.PENDING:
                return await self._first_response(content, embed, view, ephemeral)
            if self._state is _State.BUSY:
                return Answer(AnswerVisibility.NOT_SHOWN)
            return await self._fill_in(content, embed, view)

    async def refuse(self, text: str) -> None:
        """Tell only the user that their request went nowhere (an expected error, a refusal)."""
        text = text[:2000]
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
    interaction: discord.Interaction[Any], clock: Clock, deferral: Deferral, *, budget_s: float = ACK_BUDGET_S
) -> AsyncIterator[Acknowledgement]:
    """Run a handler with an `Acknowledgement` that answers for it if it runs out of budget.

    The acknowledgement is also kept on the interaction, so the central error handler answers through it.
    The handler runs speaking the member's language (`bot.i18n.speaking`): what it builds without a
    speaker of its own, and the tasks it starts (its status message), say it in that language.
    """
    ack = Acknowledgement(interaction, clock, deferral, budget_s)
    interaction.extras[_EXTRAS_KEY] = ack
    timer = asyncio.create_task(ack._answer_for_the_handler(), name=f"acknowledge-{interaction.id}")
    try:
        with speaking(speaker_for(interaction.locale)):
            yield ack
    finally:
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
