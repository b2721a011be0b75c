"""Records of the emulated Discord world, as a Discord user (or the test asserting for one) sees them.

Things that never change once made (users, roles, channels, attachments, recorded requests) are
frozen. `Guild`, `Message` and `Interaction` are live records: a test holds one while the bot acts on
it (`interaction.original` appears, `message.edits` grows), so they are mutated in place by the
emulator and only by it.
"""

# The waits take `timeout=` like asyncio.wait_for, so tests read plainly.
# ruff: noqa: ASYNC109

from __future__ import annotations

import datetime as dt
import enum
import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tests.patience import PATIENCE_S

if TYPE_CHECKING:
    from .state import EmulatorState

DISCORD_EPOCH_MS = 1_420_070_400_000
EPHEMERAL = 1 << 6
# Set on a deferred response while the bot is "thinking"; cleared by the edit that fills it in.
LOADING = 1 << 7
INTERACTION_TOKEN_LIFETIME = 15 * 60.0
# What discord.py's Permissions.text() plus view_channel/read_message_history grants: a bot that was
# invited with the usual scopes.
FULL_TEXT_PERMISSIONS = 8515152769449024
ALL_PERMISSIONS = 8866461766385663
DEFAULT_ATTACHMENT_LIMIT = 10 * 2**20


class ChannelType(enum.IntEnum):
    """The channel kinds the emulator models."""

    GUILD_TEXT = 0
    DM = 1
    PUBLIC_THREAD = 11


class InteractionType(enum.IntEnum):
    """Interaction kinds a user can cause."""

    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    APPLICATION_COMMAND_AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CallbackType(enum.IntEnum):
    """Interaction callback (response) kinds, as the bot sends them."""

    CHANNEL_MESSAGE = 4
    DEFERRED_CHANNEL_MESSAGE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
    MODAL = 9


class EmulatorClock(Protocol):
    """What the emulator reads time from: `now()` for deadlines and ages, `utcnow()` for timestamps."""

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def utcnow(self) -> dt.datetime:
        """Aware UTC wall time."""
        ...

    def advance(self, seconds: float) -> None:
        """Move time forward (interactions age, tokens expire) without waiting."""
        ...


class Clock:
    """Real monotonic seconds that a test can move forward, so token ages need no real waiting.

    The default; a test that must not depend on how fast the machine runs passes a clock that only
    moves when told (`tests.fakes.clock.FakeClock`) instead.
    """

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        """Seconds on the emulator's clock."""
        return time.monotonic() + self._offset

    def utcnow(self) -> dt.datetime:
        """Wall time as the emulator reports it in timestamps (shifted like `now`)."""
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self._offset)

    def advance(self, seconds: float) -> None:
        """Move the clock forward, e.g. past the 15-minute life of an interaction token."""
        self._offset += seconds


class Snowflakes:
    """Unique, increasing Discord-style ids whose timestamp part is the clock's current time."""

    def __init__(self, clock: EmulatorClock) -> None:
        self._clock = clock
        self._counter = itertools.count()
        self._last_millis = 0

    def next(self, *, shard: tuple[int, int] | None = None) -> int:
        """A fresh id; with `shard` (shard id, shard count), a guild id whose events go to that shard:
        its timestamp part is moved on to the next millisecond where `(id >> 22) % count == shard id`."""
        millis = max(int(self._clock.utcnow().timestamp() * 1000) - DISCORD_EPOCH_MS, self._last_millis)
        if shard is not None:
            shard_id, count = shard
            millis += (shard_id - millis) % count
        self._last_millis = millis
        return (millis << 22) | (next(self._counter) & 0x3FFFFF)


@dataclass(frozen=True)
class User:
    """A Discord account; the bot is one with `bot=True`.

    `locale` is the language its Discord app is set to, which every interaction it sends carries
    (`interaction.locale`): one of Discord's locales, or any string, as a newer client might send.
    """

    id: int
    username: str
    bot: bool = False
    locale: str = "en-US"


@dataclass(frozen=True)
class Role:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0


@dataclass(frozen=True)
class Channel:
    """A text channel in a guild, a DM (then `guild_id` is None and `recipient` is set), or a public
    thread of a text channel (then `parent_id` and `owner_id` are set)."""

    id: int
    name: str
    type: ChannelType
    guild_id: int | None = None
    nsfw: bool = False
    bot_permissions: int | None = None
    recipient: User | None = None
    parent_id: int | None = None
    owner_id: int | None = None

    @property
    def app_permissions(self) -> int:
        """What the bot may do here: full text permissions unless the test narrowed them."""
        return FULL_TEXT_PERMISSIONS if self.bot_permissions is None else self.bot_permissions


@dataclass(frozen=True)
class Member:
    """A user's membership of a guild; `permissions` overrides the role-derived value when set."""

    user: User
    guild_id: int
    roles: tuple[int, ...] = ()
    permissions: int | None = None
    joined_at: str = "2024-01-01T00:00:00+00:00"


@dataclass
class Guild:
    """A guild with its roles, channels and members (mutated as the test adds them)."""

    id: int
    name: str
    owner: User
    attachment_size_limit: int = DEFAULT_ATTACHMENT_LIMIT
    locale: str = "en-US"
    """The server's language (Community settings): its `preferred_locale` and each interaction's `guild_locale`."""
    roles: list[Role] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    members: dict[int, Member] = field(default_factory=dict)

    def permissions_of(self, member: Member) -> int:
        """The member's guild-wide permissions: explicit, owner, or the union of their roles."""
        if member.permissions is not None:
            return member.permissions
        if member.user.id == self.owner.id:
            return ALL_PERMISSIONS
        value = 0
        for role in self.roles:
            if role.id == self.id or role.id in member.roles:
                value |= role.permissions
        return value


@dataclass(frozen=True)
class Attachment:
    """An uploaded file as stored by Discord."""

    id: int
    filename: str
    content_type: str | None
    data: bytes
    description: str | None = None

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)


@dataclass(frozen=True)
class MessageEdit:
    """The visible parts of a message after one edit."""

    at: dt.datetime
    content: str
    embeds: tuple[dict[str, Any], ...]
    components: tuple[dict[str, Any], ...]
    attachments: tuple[Attachment, ...]


@dataclass
class Message:
    """A message as the channel shows it; `edits` keeps each edited state, oldest first."""

    id: int
    channel_id: int
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    allowed_mentions: dict[str, Any] | None = None
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    changed_at: float = 0.0
    shown_at: float | None = None
    """When its content first showed (a deferred response: when it was filled in), on the emulator's clock."""
    edits: list[MessageEdit] = field(default_factory=list)
    deleted: bool = False
    interaction_id: int | None = None
    webhook_id: int | None = None

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user can see it."""
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether this is a deferred response still showing "thinking"."""
        return bool(self.flags & LOADING)


@dataclass(frozen=True)
class InteractionCallback:
    """One `POST /interactions/{id}/{token}/callback` the bot made, accepted or not."""

    type: int
    data: dict[str, Any] | None
    at: float
    status: int


@dataclass
class Interaction:
    """A user's action sent to the bot, and everything the bot answered to it."""

    id: int
    token: str
    type: InteractionType
    user: User
    channel: Channel
    data: dict[str, Any]
    created_at: float
    respond_by: float | None
    expires_at: float
    message: Message | None = None
    callbacks: list[InteractionCallback] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    trigger: Interaction | None = None
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)
    _state: EmulatorState | None = field(default=None, repr=False, compare=False)

    @property
    def responded(self) -> bool:
        """Whether an accepted callback arrived."""
        return any(callback.status < 300 for callback in self.callbacks)

    @property
    def callback(self) -> InteractionCallback | None:
        """The accepted callback, if any."""
        return next((callback for callback in self.callbacks if callback.status < 300), None)

    async def wait_for_response(self, timeout: float = PATIENCE_S) -> InteractionCallback:
        """Wait until the bot's callback to this interaction was accepted and sent back, and return it."""
        assert self._state is not None, "interaction is not attached to an emulator"
        await self._state.wait_for(lambda: self.responded, timeout=timeout)
        callback = self.callback
        assert callback is not None
        return callback


@dataclass(frozen=True)
class RecordedFile:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str | None
    size: int


@dataclass(frozen=True)
class RecordedRequest:
    """One REST request the bot made and how the emulator answered it."""

    method: str
    path: str
    route: str | None
    query: dict[str, str]
    status: int
    body: Any
    files: tuple[RecordedFile, ...]
    at: float


class ViolationKind(enum.StrEnum):
    """What a violation breached."""

    REQUEST_SCHEMA = "request does not match the OpenAPI spec"
    RESPONSE_SCHEMA = "emulator response does not match the OpenAPI spec"
    RULE = "breaks a Discord rule"


@dataclass(frozen=True)
class Violation:
    """A breach of the OpenAPI spec or of a Discord rule, found while serving a request."""

    kind: ViolationKind
    method: str
    path: str
    detail: str
