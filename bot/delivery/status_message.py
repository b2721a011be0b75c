"""The one message that shows a job's status: which route changes it, and when it is replaced.

While the interaction token is fresh the message is edited through the interaction webhook; after
that (15-minute token life, or a restart) through the channel API with the bot's own token, which
needs Send Messages in the channel (checked when the job is queued). Callers say what to show;
`StatusMessage` picks the route, and is the one place that reposts (post anew, then delete the old).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

import discord

from bot.delivery.job_context import JobContext
from bot.discord_io.calls import with_retries
from generation.clock import Clock

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
DEFAULT_UPLOAD_LIMIT = 10 * 2**20
"""Discord's attachment limit where nothing larger is known (a guild's boosts raise it)."""
# Discord's error codes meaning "this token or message can no longer be used through the webhook".
TOKEN_GONE_CODES = frozenset({10008, 10015, 10062, 50027})


class TokenGoneError(Exception):
    """The interaction webhook refused the token (expired, or the message is gone)."""


class StatusChange(enum.Enum):
    """How the job's outcome came to be on screen."""

    EDITED = "the status message was edited in place (through the webhook, or the channel once the token is spent)"
    POSTED = "a new channel message shows it: there was no status message to edit"
    REPOSTED = "a new channel message shows it and the old status message was deleted"


FileMaker = Callable[[], discord.File]
"""Makes a fresh `discord.File` for each attempt (a sent file's buffer is spent)."""


class Upload(Protocol):
    """A file to attach, made to fit whichever route's size limit it goes through."""

    async def fit(self, budget_bytes: int) -> FileMaker:
        """Make the file fit `budget_bytes` (raising `DoesNotFitError` if it cannot)."""
        ...


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

    async def show(
        self,
        *,
        content: str,
        embed: discord.Embed,
        view: discord.ui.View | None,
        upload: Upload | None = None,
        channel_upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        retry_delays: tuple[float, ...],
    ) -> StatusChange:
        """Show an outcome, retried through transient failures, and say how it went on screen.

        Without an upload the status message is edited in place (through the webhook, else the
        channel), or a channel message saying `content` is posted when there is none. With one, the
        message is edited through the webhook while the token lives, the upload fitted to the
        interaction's limit; otherwise the outcome is reposted with `content` (which pings), the
        upload fitted to `channel_upload_limit`. Raises `DoesNotFitError` or the last Discord error.
        """
        if upload is None:
            if self.message_id is None:
                await with_retries(
                    lambda: self.post_in_channel(content=content, embed=embed, view=view),
                    "final status message",
                    retry_delays,
                )
                return StatusChange.POSTED
            await with_retries(lambda: self.edit(embed=embed, view=view), "final status edit", retry_delays)
            return StatusChange.EDITED
        if self.token_usable():
            attachment = await upload.fit(self.context.attachment_size_limit)
            try:
                await with_retries(
                    lambda: self.edit(embed=embed, view=view, attachments=[attachment()], channel_fallback=False),
                    "result upload",
                    retry_delays,
                )
                return StatusChange.EDITED
            except TokenGoneError:
                log.info("interaction token refused at delivery; posting in the channel instead")
        attachment = await upload.fit(channel_upload_limit)
        return await self.repost(
            content=content,
            embed=embed,
            view=view,
            files=(attachment,),
            what="channel upload",
            retry_delays=retry_delays,
        )

    async def repost(
        self,
        *,
        content: str,
        embed: discord.Embed,
        view: discord.ui.View | None,
        files: Sequence[FileMaker] = (),
        what: str,
        retry_delays: tuple[float, ...],
    ) -> StatusChange:
        """Post the job anew in the channel (pinging its requester), then delete the message it replaces.

        Retried through transient failures; raises the last Discord error if the post never went out,
        leaving the old message in place.
        """
        previous = self.message_id
        await with_retries(
            lambda: self.post_in_channel(content=content, embed=embed, view=view, files=[make() for make in files]),
            what,
            retry_delays,
        )
        if previous is not None:
            await self._delete(previous)
        return StatusChange.REPOSTED

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

    async def _delete(self, message_id: int) -> None:
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
