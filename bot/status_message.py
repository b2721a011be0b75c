"""The one message that shows a job's status, and the two ways the bot can change it.

While the interaction token is fresh the message is edited through the interaction webhook; after
that (15-minute token life, or a restart) through the channel API with the bot's own token, which
needs Send Messages in the channel (checked when the job is queued).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import discord

from bot.job_context import JobContext
from generation.clock import Clock

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
# Discord's error codes meaning "this token or message can no longer be used through the webhook".
TOKEN_GONE_CODES = frozenset({10008, 10015, 10062, 50027})


class TokenGoneError(Exception):
    """The interaction webhook refused the token (expired, or the message is gone)."""


class EditLimiter:
    """A token bucket shared by every status message, so live edits stay inside Discord's rate limits."""

    def __init__(self, per_second: float, burst: int, clock: Clock) -> None:
        self._interval = 1.0 / per_second
        self._burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more edit may be sent."""
        async with self._lock:
            while True:
                now = self._clock.monotonic()
                self._tokens = min(self._burst, self._tokens + (now - self._updated) / self._interval)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await self._clock.sleep((1 - self._tokens) * self._interval)


class StatusMessage:
    """Edits (or replaces) a job's status message, choosing the webhook or the channel route."""

    def __init__(self, client: discord.Client, context: JobContext, clock: Clock) -> None:
        self._client = client
        self.context = context
        self._clock = clock
        # Once the job is shown in a plain channel message (fallback, restart) the interaction webhook
        # cannot edit it any more, whatever the token's age.
        self._via_channel = False

    @property
    def message_id(self) -> int | None:
        """The message currently showing the job, if one exists."""
        return self.context.status_message_id

    def attach(self, message_id: int) -> None:
        """Remember which message shows the job (known once the interaction response is sent)."""
        self.context = self.context.with_status_message(message_id)

    def use_channel(self) -> None:
        """Send everything from now on through the channel: the webhook's message is unknown or retired."""
        self._via_channel = True

    def token_usable(self) -> bool:
        """True while edits may go through the interaction webhook."""
        return not self._via_channel and self.context.token_usable(self._clock.time())

    async def edit(
        self,
        *,
        content: str | None = None,
        embed: discord.Embed,
        view: discord.ui.View | None,
        attachments: Sequence[discord.File] = (),
        channel_fallback: bool = True,
    ) -> None:
        """Replace the message's content, embed, buttons and (when given) attachments.

        When the webhook refuses the token, edit through the channel instead, or raise
        `TokenGoneError` if `channel_fallback` is false.
        """
        message_id = self.message_id
        if message_id is None:
            raise RuntimeError("status message not attached yet")
        # MISSING keeps the attachments a message already has; an empty list would remove them.
        files: list[discord.File] = list(attachments) if attachments else discord.utils.MISSING
        if self.token_usable():
            try:
                await self._webhook().edit_message(
                    message_id,
                    content=content,
                    embed=embed,
                    view=view,
                    attachments=files,
                    allowed_mentions=NO_PINGS,
                )
                return
            except discord.HTTPException as error:
                if error.code not in TOKEN_GONE_CODES and error.status not in (401, 404):
                    raise
                log.info("interaction token no longer usable", extra=self._log())
                self._via_channel = True
                if not channel_fallback:
                    raise TokenGoneError from error
        channel = self._client.get_partial_messageable(self.context.channel_id)
        await channel.get_partial_message(message_id).edit(
            content=content, embed=embed, view=view, attachments=files, allowed_mentions=NO_PINGS
        )

    async def post_in_channel(
        self,
        *,
        content: str,
        embed: discord.Embed,
        view: discord.ui.View | None,
        files: Sequence[discord.File] = (),
    ) -> discord.Message:
        """Post a new channel message (mentioning only the requester) and make it the status message."""
        channel = self._client.get_partial_messageable(self.context.channel_id)
        mentions = discord.AllowedMentions(
            everyone=False,
            roles=False,
            users=[discord.Object(self.context.user_id)],
        )
        message = await channel.send(
            content,
            embed=embed,
            view=view if view is not None else discord.utils.MISSING,
            files=list(files) if files else discord.utils.MISSING,
            allowed_mentions=mentions,
        )
        self.attach(message.id)
        self._via_channel = True
        return message

    async def delete_message(self, message_id: int) -> None:
        """Delete one of the bot's messages in the job's channel; a message already gone is fine."""
        channel = self._client.get_partial_messageable(self.context.channel_id)
        try:
            await channel.get_partial_message(message_id).delete()
        except discord.NotFound:
            pass
        except discord.HTTPException:
            log.warning("could not delete old status message %s", message_id, extra=self._log())

    def _webhook(self) -> discord.Webhook:
        return discord.Webhook.partial(self.context.application_id, self.context.interaction_token, client=self._client)

    def _log(self) -> dict[str, object]:
        return {"user_id": self.context.user_id, "guild_id": self.context.guild_id}
