"""Who may queue what, where, and how often: the moderation rules applied to a live interaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import discord

from bot.errors import RefusedError
from bot.moderation.limits import MemberLimits, operator_limits
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
from bot.settings import Settings
from generation.clock import Clock
from generation.request import VideoRequest

log = logging.getLogger(__name__)
audit = logging.getLogger("videobot.audit")


class Gatekeeper:
    """Applies channel, role, DM, blocklist and cooldown rules before anything is queued."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._clock = clock
        self.policy = AccessPolicy(
            allowed_channel_ids=frozenset(settings.allowed_channel_ids),
            allowed_role_ids=frozenset(settings.allowed_role_ids),
            allow_dms=settings.allow_dms,
            admin_role_ids=frozenset(settings.admin_role_ids),
            blocklist_mode=BlocklistMode(settings.blocklist_mode),
        )
        self.blocklist = Blocklist.from_entries(settings.blocklist)
        self.cooldown = Cooldown(settings.cooldown_s)
        self._model_negative_prompt = settings.profile.negative_prompt
        self._operator_limits = operator_limits(settings)

    def admit(self, interaction: discord.Interaction[Any], request: VideoRequest) -> Admission:
        """Raise `RefusedError` if this user may not queue `request` here, now; else start their cooldown.

        The cooldown starts here, before any await, so two quick requests cannot both pass; call
        `Admission.withdraw()` if the job is not accepted after all.
        """
        context = access_context(interaction)
        # The model's own default negative prompt (Wan's lists "ugly", "deformed") is the operator's
        # text, not the user's: a blocklist with such words must not refuse every request.
        negative = "" if request.negative_prompt == self._model_negative_prompt else request.negative_prompt
        blocked = self.blocklist.match(request.prompt, negative)
        refusal = check_access(context, self.policy, blocked=blocked)
        now = self._clock.monotonic()
        exempt = is_admin(context, self.policy)
        if refusal is None and not exempt:
            remaining = self.cooldown.check(interaction.user.id, now)
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
            raise RefusedError(refusal.message)
        if not exempt:
            self.cooldown.record(interaction.user.id, now)
        return Admission(self.cooldown, interaction.user.id, now)

    def limits(self, interaction: discord.Interaction[Any]) -> MemberLimits:
        """The member's daily quota, jobs held and weight here (today: the operator's defaults for everyone)."""
        return self._operator_limits

    def is_admin(self, interaction: discord.Interaction[Any]) -> bool:
        """Manage Server or one of the configured admin roles."""
        return is_admin(access_context(interaction), self.policy)

    def is_moderator(self, interaction: discord.Interaction[Any]) -> bool:
        """Admins, and members who may manage messages in the channel."""
        return self.is_admin(interaction) or interaction.permissions.manage_messages


@dataclass(frozen=True)
class Admission:
    """A request that passed the rules; its cooldown has started."""

    cooldown: Cooldown
    user_id: int
    at: float

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
