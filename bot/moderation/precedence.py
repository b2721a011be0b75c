"""The effective rules for one place (a server, one of its channels) and one member, with each value's source.

Pure functions of the operator's settings and the server's `GuildRules`; nothing here waits or reads
Discord. The precedence, most general first (a later row wins where it applies):

| layer          | sets                                              | bound                                  |
|----------------|---------------------------------------------------|----------------------------------------|
| operator (env) | every default: ALLOWED_CHANNEL_IDS,               | MAX_STEPS, MAX_FRAMES, VIDEO_SIZES and |
|                | ALLOWED_ROLE_IDS, BLOCKLIST, BLOCKLIST_MODE,      | the model's own limits are hard: no    |
|                | COOLDOWN_S, the member defaults (daily quota,     | rule below goes past them              |
|                | QUEUE_MAX_PER_USER jobs held, weight 1)           |                                        |
| server rule    | replaces the default: allowed channels and roles  | max steps/frames/size only tighten;    |
|                | (the operator's lists then do not apply),         | its blocklist entries are ADDED to the |
|                | blocklist mode, cooldown, max steps/frames/size,  | operator's, which always apply         |
|                | daily quota                                       |                                        |
| channel rule   | replaces the server rule in that channel and its  | as the server rule                     |
|                | threads: cooldown, max steps/frames/size          |                                        |
| role perk      | raises a member's daily quota, jobs held and      | weight 1..10; per value, the best of   |
|                | weight above the server's value, never lowers it  | the member's roles                     |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from bot.i18n import marked
from bot.moderation.limits import MemberLimits, operator_limits
from bot.moderation.rules import BlocklistMode
from bot.moderation.server_rules import GuildRules, RolePerk, ScopeLimits
from bot.settings import Settings

T = TypeVar("T")


class Source(StrEnum):
    """Where an effective value comes from, as `/videoadmin rules show` says it."""

    OPERATOR = marked("operator default")
    SERVER = marked("server rule")
    CHANNEL = marked("channel rule")
    ROLE = marked("role perk")


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A value and its source; `role_id` names the role for a perk."""

    value: T
    source: Source
    role_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class OperatorRules:
    """The operator's settings the server rules fall back to and stay within."""

    allowed_channel_ids: frozenset[int] = frozenset()
    allowed_role_ids: frozenset[int] = frozenset()
    blocklist: tuple[str, ...] = ()
    blocklist_mode: BlocklistMode = BlocklistMode.REFUSE_OUTSIDE_NSFW
    cooldown_s: float = 0.0
    max_steps: int = 50
    max_frames: int = 32
    member: MemberLimits = field(default_factory=lambda: MemberLimits(None, None, None, 1))

    @classmethod
    def from_settings(cls, settings: Settings) -> OperatorRules:
        """The operator's rules from `settings`, with the member defaults (quota, held, weight) they give."""
        return cls(
            allowed_channel_ids=frozenset(settings.allowed_channel_ids),
            allowed_role_ids=frozenset(settings.allowed_role_ids),
            blocklist=tuple(settings.blocklist),
            blocklist_mode=BlocklistMode(settings.blocklist_mode),
            cooldown_s=settings.cooldown_s,
            max_steps=settings.max_steps,
            max_frames=settings.max_frames,
            member=operator_limits(settings),
        )


@dataclass(frozen=True, kw_only=True)
class EffectiveRules:
    """The rules in force in one place; the caps (`max_*`) are the operator's own when sourced from it."""

    allowed_channel_ids: Sourced[frozenset[int]]
    allowed_role_ids: Sourced[frozenset[int]]
    blocklist: Sourced[tuple[str, ...]]
    blocklist_mode: Sourced[BlocklistMode]
    cooldown_s: Sourced[float]
    max_steps: Sourced[int]
    max_frames: Sourced[int]
    max_size: Sourced[str | None]
    daily_quota: Sourced[int | None]
    quota_reset_hour: Sourced[int | None]
    max_held: Sourced[int | None]
    weight: Sourced[int]
    language: Sourced[str | None] = Sourced(None, Source.OPERATOR)
    """The language of public posts: a Discord locale, or None for Discord's own server language."""
    perks: dict[int, RolePerk] = field(default_factory=dict)

    def cap(self, value: Sourced[int]) -> int | None:
        """A server or channel cap on steps or frames; None where only the operator's (and model's) apply."""
        return None if value.source is Source.OPERATOR else value.value


def effective_rules(
    operator: OperatorRules, rules: GuildRules, channel_id: int | None = None, parent_id: int | None = None
) -> EffectiveRules:
    """The rules in force in a server with `rules`, in `channel_id` (a thread's `parent_id` stands in for
    it when the thread has none of its own), or server-wide when `channel_id` is None."""
    here = _channel_limits(rules, channel_id, parent_id)
    server = rules.server
    quota = rules.daily_quota
    member = operator.member
    return EffectiveRules(
        allowed_channel_ids=_replaced(operator.allowed_channel_ids, rules.allowed_channel_ids),
        allowed_role_ids=_replaced(operator.allowed_role_ids, rules.allowed_role_ids),
        blocklist=Sourced(operator.blocklist + rules.blocklist, Source.SERVER if rules.blocklist else Source.OPERATOR),
        blocklist_mode=_replaced(operator.blocklist_mode, rules.blocklist_mode),
        cooldown_s=_layered(operator.cooldown_s, server.cooldown_s, here.cooldown_s),
        max_steps=_tightened(operator.max_steps, server.max_steps, here.max_steps),
        max_frames=_tightened(operator.max_frames, server.max_frames, here.max_frames),
        max_size=_layered(None, server.max_size, here.max_size),
        daily_quota=Sourced(quota.videos, Source.SERVER) if quota else Sourced(member.daily_quota, Source.OPERATOR),
        quota_reset_hour=(
            Sourced(quota.reset_hour, Source.SERVER) if quota else Sourced(member.quota_reset_hour, Source.OPERATOR)
        ),
        max_held=Sourced(member.max_held, Source.OPERATOR),
        weight=Sourced(member.weight, Source.OPERATOR),
        language=Sourced(rules.language, Source.SERVER if rules.language else Source.OPERATOR),
        perks=dict(rules.perks),
    )


def member_rules(rules: EffectiveRules, role_ids: frozenset[int]) -> EffectiveRules:
    """`rules` for a member with `role_ids`: each of quota, held and weight raised by the best perk of their
    roles (a perk never lowers a value; no limit, `None`, beats any number)."""
    perks = sorted((role, perk) for role, perk in rules.perks.items() if role in role_ids)
    quota, held, weight = rules.daily_quota, rules.max_held, rules.weight
    for role, perk in perks:
        if perk.daily_quota is not None and quota.value is not None and perk.daily_quota > quota.value:
            quota = Sourced(perk.daily_quota, Source.ROLE, role)
        if perk.max_held is not None and held.value is not None and perk.max_held > held.value:
            held = Sourced(perk.max_held, Source.ROLE, role)
        if perk.weight is not None and perk.weight > weight.value:
            weight = Sourced(perk.weight, Source.ROLE, role)
    return EffectiveRules(**{**vars(rules), "daily_quota": quota, "max_held": held, "weight": weight})


def member_limits(rules: EffectiveRules, role_ids: frozenset[int]) -> MemberLimits:
    """The `MemberLimits` of a member with `role_ids` under `rules`: what the queue's allowance is built from."""
    mine = member_rules(rules, role_ids)
    return MemberLimits(mine.daily_quota.value, mine.quota_reset_hour.value, mine.max_held.value, mine.weight.value)


def _channel_limits(rules: GuildRules, channel_id: int | None, parent_id: int | None) -> ScopeLimits:
    if channel_id is not None and channel_id in rules.channels:
        return rules.channel(channel_id)
    if parent_id is not None:
        return rules.channel(parent_id)
    return ScopeLimits()


def _replaced(operator: T, server: T | None) -> Sourced[T]:
    return Sourced(operator, Source.OPERATOR) if server is None else Sourced(server, Source.SERVER)


def _layered(operator: T, server: T | None, channel: T | None) -> Sourced[T]:
    if channel is not None:
        return Sourced(channel, Source.CHANNEL)
    return _replaced(operator, server)


def _tightened(operator: int, server: int | None, channel: int | None) -> Sourced[int]:
    """A cap: the channel's, else the server's, never above the operator's (which then stands)."""
    chosen = _layered(operator, server, channel)
    return chosen if chosen.value <= operator else Sourced(operator, Source.OPERATOR)
