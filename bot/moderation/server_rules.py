"""The rules a server's admins set with `/videoadmin rules`: one `GuildRules` document per server.

Everything here is a value an admin chose; what is left unset (`None`, empty) falls back to the
operator's settings (see `bot.moderation.precedence`). The models are pydantic, frozen and strict about
extra keys, because they are read back from the database or Redis: `GuildRules.from_json` refuses a
damaged document rather than letting it half-apply.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.moderation.rules import Blocklist, BlocklistMode

#: A member's weight in the fair order: turns per round (the queue's `Allowance` takes 1..10).
MAX_WEIGHT: Final = 10
#: A cooldown longer than a day is a ban, which Discord's own tools do better.
MAX_COOLDOWN_S: Final = 24 * 60 * 60
MAX_QUOTA: Final = 10_000
MAX_HELD: Final = 100
#: Enough for any real server; keeps one document (and every /video's look at it) small.
MAX_BLOCKLIST_ENTRIES: Final = 200
MAX_LISTED_IDS: Final = 100
_SIZE: Final = re.compile(r"^(\d{2,5})x(\d{2,5})$")
#: The languages a server may fix for its public posts, as Discord names them: one per shipped catalogue.
PUBLIC_LANGUAGES: Final = ("en-US", "de", "fr", "es-ES", "pt-BR", "ja")

Snowflake = Annotated[int, Field(ge=1, lt=2**64)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScopeLimits(_Frozen):
    """What a server sets for all its channels, or a channel for itself: a cooldown and the most a member
    may ask for. `max_size` is "WIDTHxHEIGHT": sizes with more pixels than it are not offered."""

    cooldown_s: float | None = Field(None, ge=0, le=MAX_COOLDOWN_S)
    max_steps: int | None = Field(None, ge=1)
    max_frames: int | None = Field(None, ge=1)
    max_size: str | None = None

    @field_validator("max_size")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is not None and not _SIZE.match(value):
            raise ValueError(f"max_size {value!r} is not WIDTHxHEIGHT")
        return value

    def is_empty(self) -> bool:
        """True when nothing is set."""
        return self == ScopeLimits()


class DailyQuota(_Frozen):
    """Videos per member per day: `videos` None is no limit; `reset_hour` None counts the last 24 hours,
    else the day that begins at that hour UTC."""

    videos: int | None = Field(None, ge=0, le=MAX_QUOTA)
    reset_hour: int | None = Field(None, ge=0, le=23)


class RolePerk(_Frozen):
    """What a role raises for its members: their daily quota, the jobs they may hold at once, their weight."""

    daily_quota: int | None = Field(None, ge=0, le=MAX_QUOTA)
    max_held: int | None = Field(None, ge=1, le=MAX_HELD)
    weight: int | None = Field(None, ge=1, le=MAX_WEIGHT)

    def is_empty(self) -> bool:
        """True when the perk raises nothing."""
        return self == RolePerk()


class GuildRules(_Frozen):
    """One server's rules. `allowed_channel_ids` / `allowed_role_ids`, when set, replace the operator's
    lists; `blocklist` entries are added to the operator's, never replace them."""

    server: ScopeLimits = ScopeLimits()
    channels: dict[Snowflake, ScopeLimits] = Field(default_factory=dict)
    allowed_channel_ids: frozenset[Snowflake] | None = Field(None, max_length=MAX_LISTED_IDS)
    allowed_role_ids: frozenset[Snowflake] | None = Field(None, max_length=MAX_LISTED_IDS)
    blocklist: tuple[str, ...] = Field((), max_length=MAX_BLOCKLIST_ENTRIES)
    blocklist_mode: BlocklistMode | None = None
    daily_quota: DailyQuota | None = None
    perks: dict[Snowflake, RolePerk] = Field(default_factory=dict)
    language: str | None = None
    """The language of the server's public posts (a Discord locale); None follows Discord's server language."""

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and value not in PUBLIC_LANGUAGES:
            raise ValueError(f"language {value!r} is not one of {', '.join(PUBLIC_LANGUAGES)}")
        return value

    @field_validator("blocklist")
    @classmethod
    def _entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        Blocklist.from_entries(value)  # ValueError names a bad entry
        return value

    @model_validator(mode="after")
    def _no_empty_scopes(self) -> GuildRules:
        if any(limits.is_empty() for limits in self.channels.values()):
            raise ValueError("a channel entry with no rule in it")
        if any(perk.is_empty() for perk in self.perks.values()):
            raise ValueError("a role perk that raises nothing")
        return self

    @classmethod
    def from_json(cls, text: str | bytes) -> GuildRules:
        """Parse a stored document; `pydantic.ValidationError` (a `ValueError`) when it is damaged."""
        return cls.model_validate_json(text)

    def to_json(self) -> str:
        """The document as stored."""
        return self.model_dump_json(exclude_defaults=True)

    def channel(self, channel_id: int) -> ScopeLimits:
        """The rules set for one channel (empty when none)."""
        return self.channels.get(channel_id, ScopeLimits())

    def updated(self, **changes: object) -> GuildRules:
        """These rules with `changes`, validated again: `ValueError` (pydantic's) names what is wrong."""
        return GuildRules.model_validate({**dict(self), **changes})

    def with_channel(self, channel_id: int, limits: ScopeLimits) -> GuildRules:
        """These rules with `channel_id`'s limits replaced (removed when empty)."""
        channels = {key: value for key, value in self.channels.items() if key != channel_id}
        if not limits.is_empty():
            channels[channel_id] = limits
        return self.updated(channels=channels)

    def with_perk(self, role_id: int, perk: RolePerk) -> GuildRules:
        """These rules with `role_id`'s perk replaced (removed when it raises nothing)."""
        perks = {key: value for key, value in self.perks.items() if key != role_id}
        if not perk.is_empty():
            perks[role_id] = perk
        return self.updated(perks=perks)


NO_RULES: Final = GuildRules()
"""A server without rules of its own. The stores hand out this one object for every such server, so what is
computed from a server's rules can be kept while the very same rules object is in force."""
