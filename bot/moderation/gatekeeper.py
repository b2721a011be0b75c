"""Who may queue what, where, and how often: the moderation rules applied to a live interaction."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import discord

from bot.errors import RefusedError
from bot.moderation.limits import MemberLimits
from bot.moderation.precedence import (
    EffectiveRules,
    OperatorRules,
    Source,
    effective_rules,
    member_limits,
)
from bot.moderation.rules import (
    AccessContext,
    AccessPolicy,
    Blocklist,
    BlocklistMode,
    Cooldown,
    check_access,
    cooldown_refusal,
    is_admin,
)
from bot.moderation.rules_store import RulesStore
from bot.moderation.server_rules import NO_RULES, GuildRules
from bot.settings import Settings
from generation.clock import Clock
from generation.request import VideoRequest

log = logging.getLogger(__name__)
audit = logging.getLogger("videobot.audit")
#: Compiled server blocklists kept; past this (many servers, many edits) they are compiled again.
_BLOCKLISTS_KEPT = 256
#: Places (server, channel, thread parent) whose effective rules are kept; past this they are worked out again.
_PLACES_KEPT = 4096


class Gatekeeper:
    """Applies channel, role, DM, blocklist and cooldown rules before anything is queued: the operator's,
    as each server's rules (`rules_store`) change them (`bot.moderation.precedence`)."""

    def __init__(self, settings: Settings, clock: Clock, rules_store: RulesStore) -> None:
        self._clock = clock
        self.rules_store = rules_store
        self.operator = OperatorRules.from_settings(settings)
        self.policy = AccessPolicy(
            allowed_channel_ids=frozenset(settings.allowed_channel_ids),
            allowed_role_ids=frozenset(settings.allowed_role_ids),
            allow_dms=settings.allow_dms,
            admin_role_ids=frozenset(settings.admin_role_ids),
            blocklist_mode=BlocklistMode(settings.blocklist_mode),
        )
        self.blocklist = Blocklist.from_entries(settings.blocklist)
        self.cooldown = Cooldown(settings.cooldown_s)
        # Cooldowns set by a server or channel rule, by where they were set and their seconds: a member's
        # wait in one server is not held against them in another, and a changed value starts afresh.
        self._ruled_cooldowns: dict[tuple[int, int, float], Cooldown] = {}
        self._blocklists: dict[tuple[str, ...], Blocklist] = {self.operator.blocklist: self.blocklist}
        self._effective: dict[tuple[int, int | None, int | None], tuple[GuildRules, EffectiveRules]] = {}
        self._model_negative_prompt = settings.profile.negative_prompt

    async def rules_here(self, interaction: discord.Interaction[Any]) -> EffectiveRules:
        """The rules in force for the interaction's server and channel (a thread: its parent's), read now:
        a change made by any bot process applies to the next request."""
        context = access_context(interaction)
        return await self.rules_for(interaction.guild_id, context.channel_id, context.parent_channel_id)

    async def rules_for(
        self, guild_id: int | None, channel_id: int | None = None, parent_id: int | None = None
    ) -> EffectiveRules:
        """The rules in force in a server (the operator's alone outside one), in one channel or server-wide."""
        if guild_id is None:
            return self._effective_here(0, NO_RULES, None, None)
        return self._effective_here(guild_id, await self.rules_store.rules(guild_id), channel_id, parent_id)

    def _effective_here(
        self, guild_id: int, rules: GuildRules, channel_id: int | None, parent_id: int | None
    ) -> EffectiveRules:
        """`effective_rules` for one place, computed again only when its server's rules object changed: the
        stores hand out the same object while the rules stand (every `/video` asks, and building them
        validates models each time)."""
        place = (guild_id, channel_id, parent_id)
        kept = self._effective.get(place)
        if kept is not None and kept[0] is rules:
            return kept[1]
        here = effective_rules(self.operator, rules, channel_id, parent_id)
        if len(self._effective) >= _PLACES_KEPT:
            self._effective.clear()
        self._effective[place] = (rules, here)
        return here

    def member_limits(self, interaction: discord.Interaction[Any], here: EffectiveRules) -> MemberLimits:
        """The quota, jobs held and weight of the interaction's member under the rules `here`, raised by the
        best perk of their roles: what the queue's `Allowance` for their next job is built from."""
        return member_limits(here, access_context(interaction).role_ids)

    def admit(self, interaction: discord.Interaction[Any], request: VideoRequest, here: EffectiveRules) -> Admission:
        """Raise `RefusedError` if this user may not queue `request` under the rules `here`, now; else start
        their cooldown.

        The cooldown starts here, before any await, so two quick requests cannot both pass; call
        `Admission.withdraw()` if the job is not accepted after all.
        """
        context = access_context(interaction)
        policy = dataclasses.replace(
            self.policy,
            allowed_channel_ids=here.allowed_channel_ids.value,
            allowed_role_ids=here.allowed_role_ids.value,
            blocklist_mode=here.blocklist_mode.value,
        )
        # The model's own default negative prompt (Wan's lists "ugly", "deformed") is the operator's
        # text, not the user's: a blocklist with such words must not refuse every request.
        negative = "" if request.negative_prompt == self._model_negative_prompt else request.negative_prompt
        blocked = self._blocklist(here.blocklist.value).match(request.prompt, negative)
        refusal = check_access(context, policy, blocked=blocked)
        now = self._clock.monotonic()
        exempt = is_admin(context, policy)
        cooldown = self._cooldown(context, here)
        if refusal is None and not exempt:
            remaining = cooldown.check(interaction.user.id, now)
            if remaining is not None:
                refusal = cooldown_refusal(remaining)
        if refusal is not None:
            audit.info(
                "request refused reason=%s user_id=%s guild_id=%s channel_id=%s prompt=%r",
                refusal.reason.value,
                interaction.user.id,
                interaction.guild_id,
                interaction.channel_id,
                request.prompt,
            )
            raise RefusedError(refusal.said)
        if not exempt:
            cooldown.record(interaction.user.id, now)
        return Admission(cooldown, interaction.user.id, now, member_limits(here, context.role_ids))

    def _blocklist(self, entries: tuple[str, ...]) -> Blocklist:
        """The operator's list plus a server's entries, compiled once per distinct list."""
        if entries not in self._blocklists:
            if len(self._blocklists) > _BLOCKLISTS_KEPT:
                self._blocklists = {self.operator.blocklist: self.blocklist}
            # Entries were checked when stored; one read back from a shared store is not trusted.
            try:
                self._blocklists[entries] = Blocklist.from_entries(entries)
            except ValueError as error:
                log.error("server blocklist ignored, the operator's applies: %s", error)
                return self.blocklist
        return self._blocklists[entries]

    def _cooldown(self, context: AccessContext, here: EffectiveRules) -> Cooldown:
        """The cooldown in force: the operator's (across servers, as always), or the one of the server or
        channel rule that sets it."""
        seconds = here.cooldown_s
        if seconds.source is Source.OPERATOR or context.guild_id is None:
            return self.cooldown
        scope = 0 if seconds.source is Source.SERVER else context.parent_channel_id or context.channel_id
        key = (context.guild_id, scope, seconds.value)
        if key not in self._ruled_cooldowns:
            for stale in [each for each in self._ruled_cooldowns if each[:2] == key[:2]]:
                del self._ruled_cooldowns[stale]
            self._ruled_cooldowns[key] = Cooldown(seconds.value)
        return self._ruled_cooldowns[key]

    def is_admin(self, interaction: discord.Interaction[Any]) -> bool:
        """Manage Server or one of the configured admin roles."""
        return is_admin(access_context(interaction), self.policy)

    def is_moderator(self, interaction: discord.Interaction[Any]) -> bool:
        """Admins, and members who may manage messages in the channel."""
        return self.is_admin(interaction) or interaction.permissions.manage_messages


@dataclass(frozen=True)
class Admission:
    """A request that passed the rules; its cooldown has started. `limits`: the member's quota, jobs held and
    weight under the rules it passed (what its job's `Allowance` is built from)."""

    cooldown: Cooldown
    user_id: int
    at: float
    limits: MemberLimits

    def withdraw(self) -> None:
        """The job was not queued after all: give the user their cooldown back."""
        self.cooldown.forget(self.user_id, self.at)


def access_context(interaction: discord.Interaction[Any]) -> AccessContext:
    """The facts about an interaction that the access rules look at."""
    channel = interaction.channel
    parent_id = getattr(channel, "parent_id", None)
    nsfw = bool(getattr(channel, "is_nsfw", lambda: False)())
    user = interaction.user
    roles = frozenset(role.id for role in user.roles) if isinstance(user, discord.Member) else frozenset()
    return AccessContext(
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id or 0,
        parent_channel_id=parent_id,
        channel_is_nsfw=nsfw,
        role_ids=roles,
        can_manage_guild=interaction.permissions.manage_guild,
    )
