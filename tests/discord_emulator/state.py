"""The emulated Discord world: who and what exists, what the bot posted, and waiting for changes.

Everything lives on one event loop, so no locks: handlers mutate state, then call `notify()` once the
bot has been answered, which wakes the tests' `wait_for` predicates.
"""

# The waits take `timeout=` like asyncio.wait_for, so tests read plainly.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from tests.patience import PATIENCE_S

from .components import stored_components, without_nulls
from .models import (
    DEFAULT_ATTACHMENT_LIMIT,
    LOADING,
    Attachment,
    Channel,
    ChannelType,
    Clock,
    EmulatorClock,
    Guild,
    Interaction,
    Member,
    Message,
    MessageEdit,
    RecordedRequest,
    Role,
    Snowflakes,
    User,
    Violation,
)


class EmulatorState:
    """Users, guilds, channels, messages, interactions, synced commands, and the request log."""

    def __init__(self, bot_name: str = "videobot", clock: EmulatorClock | None = None) -> None:
        self.clock: EmulatorClock = clock or Clock()
        self.ids = Snowflakes(self.clock)
        self.application_id = self.ids.next()
        self.bot_user = User(id=self.application_id, username=bot_name, bot=True)
        # Shaped like a real bot token (base64 user id . timestamp . HMAC): the bot's start-up checks
        # refuse anything else before it connects.
        user_id = base64.urlsafe_b64encode(str(self.application_id).encode()).decode().rstrip("=")
        self.bot_token = f"{user_id}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(27)}"
        self.users: dict[int, User] = {self.bot_user.id: self.bot_user}
        self.guilds: dict[int, Guild] = {}
        self.dm_attachment_size_limit = DEFAULT_ATTACHMENT_LIMIT
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.interactions: dict[int, Interaction] = {}
        # Webhook routes name an interaction by token: a scan of every interaction per request would make
        # a long soak's emulator slower with each video it has seen.
        self._by_token: dict[str, Interaction] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        # Paths of requests served while a fault kept their answer from the bot: one retry of each is no fault.
        self.unanswered: set[str] = set()
        # REST requests being served: their changes are not shown to waiters until the bot has its reply.
        self.in_flight = 0
        self._waiters: set[asyncio.Future[None]] = set()
        self._abort_reason: str | None = None

    # -- waiting -------------------------------------------------------------------------------

    def notify(self) -> None:
        """Wake every `wait_for` so it re-checks its predicate."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def abort_waits(self, reason: str) -> None:
        """Make current and future waits fail at once (the bot logged an error nobody will answer)."""
        if self._abort_reason is None:
            self._abort_reason = reason
        self.notify()

    def allow_waits(self) -> None:
        """Undo `abort_waits` (the test claimed the error it provoked)."""
        self._abort_reason = None

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = PATIENCE_S) -> None:
        """Return once `predicate()` is true, re-checking it on every state change."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if self._abort_reason is not None:
                        raise AssertionError(f"stopped waiting: {self._abort_reason}")
                    if self.in_flight == 0 and predicate():
                        return
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.add(waiter)
                    await waiter
        except TimeoutError:
            recent = "\n  ".join(f"{r.method} {r.path} -> {r.status}" for r in self.requests[-8:])
            raise TimeoutError(f"condition not met within {timeout}s; last requests:\n  {recent or '(none)'}") from None

    # -- the world -----------------------------------------------------------------------------

    def add_user(self, username: str, *, bot: bool = False, locale: str = "en-US") -> User:
        """A new account, its Discord app set to `locale`."""
        user = User(id=self.ids.next(), username=username, bot=bot, locale=locale)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, attachment_size_limit: int, shard: tuple[int, int] | None = None) -> Guild:
        """A guild with an owner, an @everyone role (view/send/read history) and the bot as member; with
        `shard` (shard id, shard count), one whose events go to that shard."""
        owner = self.add_user(f"{name}-owner")
        guild = Guild(
            id=self.ids.next(shard=shard), name=name, owner=owner, attachment_size_limit=attachment_size_limit
        )
        guild.roles.append(Role(id=guild.id, guild_id=guild.id, name="@everyone", permissions=0x10C00))
        for user in (owner, self.bot_user):
            guild.members[user.id] = Member(user=user, guild_id=guild.id)
        self.guilds[guild.id] = guild
        return guild

    def add_channel(self, guild: Guild, name: str, *, nsfw: bool, bot_permissions: int | None) -> Channel:
        """A text channel in `guild`."""
        channel = Channel(
            id=self.ids.next(),
            name=name,
            type=ChannelType.GUILD_TEXT,
            guild_id=guild.id,
            nsfw=nsfw,
            bot_permissions=bot_permissions,
        )
        guild.channels.append(channel)
        self.channels[channel.id] = channel
        return channel

    def add_thread(self, parent: Channel, name: str, *, owner: User, bot_permissions: int | None) -> Channel:
        """A public thread of the text channel `parent`, started by `owner` (not one of the guild's channels)."""
        thread = Channel(
            id=self.ids.next(),
            name=name,
            type=ChannelType.PUBLIC_THREAD,
            guild_id=parent.guild_id,
            bot_permissions=bot_permissions,
            parent_id=parent.id,
            owner_id=owner.id,
        )
        self.channels[thread.id] = thread
        return thread

    def add_dm_channel(self, user: User) -> Channel:
        """The DM channel between `user` and the bot."""
        channel = Channel(id=self.ids.next(), name="", type=ChannelType.DM, recipient=user)
        self.channels[channel.id] = channel
        return channel

    def add_role(self, guild: Guild, name: str, permissions: int) -> Role:
        """A role in `guild`, above the existing ones."""
        role = Role(
            id=self.ids.next(),
            guild_id=guild.id,
            name=name,
            permissions=permissions,
            position=len(guild.roles),
        )
        guild.roles.append(role)
        return role

    def add_member(self, guild: Guild, user: User, roles: Iterable[Role], permissions: int | None) -> Member:
        """Make `user` a member of `guild` (replacing an earlier membership)."""
        member = Member(user=user, guild_id=guild.id, roles=tuple(role.id for role in roles), permissions=permissions)
        guild.members[user.id] = member
        return member

    def add_interaction(self, interaction: Interaction) -> None:
        """Record a user's interaction, findable by id and by token."""
        self.interactions[interaction.id] = interaction
        self._by_token[interaction.token] = interaction

    def interaction_by_token(self, token: str) -> Interaction | None:
        """The interaction a webhook token belongs to."""
        return self._by_token.get(token)

    def guild_of(self, channel: Channel) -> Guild | None:
        """The guild a channel belongs to; None for DMs."""
        return None if channel.guild_id is None else self.guilds[channel.guild_id]

    def commands_for(self, guild_id: int | None) -> list[dict[str, Any]]:
        """Commands visible in a guild: its own, then the global ones (like the Discord client lists them)."""
        own = self.guild_commands.get(guild_id, []) if guild_id is not None else []
        return [*own, *self.global_commands]

    # -- messages -------------------------------------------------------------------------------

    def create_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        uploads: list[Attachment],
        *,
        interaction_id: int | None = None,
        webhook_id: int | None = None,
    ) -> Message:
        """Store a message the bot posted, from its request body and uploaded files."""
        message = Message(
            id=self.ids.next(),
            channel_id=channel_id,
            author=self.bot_user,
            created_at=self.clock.utcnow(),
            changed_at=self.clock.now(),
            interaction_id=interaction_id,
            webhook_id=webhook_id,
        )
        self._apply(message, body, uploads, creating=True)
        if not message.loading:
            message.shown_at = message.changed_at
        self.messages[message.id] = message
        return message

    def edit_message(self, message: Message, body: dict[str, Any], uploads: list[Attachment]) -> None:
        """Apply an edit to `message` and remember the state it produced.

        Filling in a deferred ("thinking") response is how it first appears, not an edit."""
        was_loading = message.loading
        self._apply(message, body, uploads, creating=False)
        message.changed_at = self.clock.now()
        if was_loading:
            message.flags &= ~LOADING
            message.shown_at = message.changed_at
            return
        message.edits.append(
            MessageEdit(
                at=self.clock.utcnow(),
                content=message.content,
                embeds=tuple(message.embeds),
                components=tuple(message.components),
                attachments=tuple(message.attachments),
            )
        )

    def delete_message(self, message: Message) -> None:
        """Mark `message` deleted; it stays in the record for assertions."""
        message.deleted = True
        message.changed_at = self.clock.now()

    def visible_messages(self, channel_id: int) -> list[Message]:
        """Messages in a channel that are not deleted, oldest first."""
        return [m for m in self.messages.values() if m.channel_id == channel_id and not m.deleted]

    def _apply(self, message: Message, body: dict[str, Any], uploads: list[Attachment], *, creating: bool) -> None:
        if "content" in body or creating:
            message.content = body.get("content") or ""
        if "embeds" in body or creating:
            message.embeds = [_stored_embed(embed) for embed in body.get("embeds") or []]
        if "components" in body or creating:
            message.components = stored_components(body.get("components") or [])
        if body.get("flags") is not None:
            message.flags = int(body["flags"])
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        message.attachments = _attachments_after(message.attachments, body.get("attachments"), uploads)


def _stored_embed(embed: dict[str, Any]) -> dict[str, Any]:
    """An embed as Discord returns it: a `rich` type, nulls dropped, every field's `inline` said."""
    stored = {"type": "rich", **without_nulls(embed)}
    if "fields" in stored:
        stored["fields"] = [{"inline": False, **field} for field in stored["fields"]]
    return stored


def _attachments_after(
    current: list[Attachment], listed: list[dict[str, Any]] | None, uploads: list[Attachment]
) -> list[Attachment]:
    """Discord's attachment rule: a listed `attachments` array is the new set (old ones kept by id,
    new uploads by their upload index); without one, uploads are added to what is there."""
    if listed is None:
        return [*current, *uploads]
    existing = {attachment.id: attachment for attachment in current}
    kept: list[Attachment] = []
    for entry in listed:
        ref = int(entry["id"])
        if ref in existing:
            kept.append(existing[ref])
        elif 0 <= ref < len(uploads):
            upload = uploads[ref]
            filename = entry.get("filename") or upload.filename
            kept.append(
                Attachment(
                    id=upload.id,
                    filename=filename,
                    content_type=upload.content_type,
                    data=upload.data,
                    description=entry.get("description"),
                )
            )
    return kept
