"""The audit trail of rule changes: who changed what, when, from which value to which.

A change is found by comparing the rules before and after, item by item as an admin reads them
(`rule_items`), so every command that edits rules is audited the same way without saying so itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bot.i18n import ENGLISH, Speaker, marked
from bot.moderation.server_rules import GuildRules, ScopeLimits

UNSET = "not set"


BY_THE_BOT: Final = 0
"""The `user_id` of a change the bot made itself (rules restored after Redis lost them)."""


@dataclass(frozen=True)
class AuditEntry:
    """One rule changed: `at` epoch seconds, by member `user_id` (`BY_THE_BOT`: no member, the bot itself),
    `what` from `old` to `new` (as shown)."""

    at: float
    user_id: int
    what: str
    old: str
    new: str


def rule_items(rules: GuildRules) -> dict[str, str]:
    """Every rule that is set, as (name → value) an admin reads; channels and roles as mentions."""
    items = _limits_items("server", rules.server)
    for channel_id, limits in sorted(rules.channels.items()):
        items |= _limits_items(f"<#{channel_id}>", limits)
    if rules.allowed_channel_ids is not None:
        items["allowed channels"] = _mentions(rules.allowed_channel_ids, "<#{}>")
    if rules.allowed_role_ids is not None:
        items["allowed roles"] = _mentions(rules.allowed_role_ids, "<@&{}>")
    if rules.blocklist:
        items["blocklist (added)"] = ", ".join(rules.blocklist)
    if rules.blocklist_mode is not None:
        items["blocklist mode"] = rules.blocklist_mode.value
    if rules.daily_quota is not None:
        items["daily quota"] = quota_text(rules.daily_quota.videos, rules.daily_quota.reset_hour)
    if rules.language is not None:
        items["server language"] = rules.language
    for role_id, perk in sorted(rules.perks.items()):
        for name, value in (("daily quota", perk.daily_quota), ("jobs held", perk.max_held), ("weight", perk.weight)):
            if value is not None:
                items[f"<@&{role_id}> {name}"] = str(value)
    return items


def changes(old: GuildRules, new: GuildRules, user_id: int, at: float) -> list[AuditEntry]:
    """One entry per item that differs between `old` and `new` (set, changed or removed)."""
    before, after = rule_items(old), rule_items(new)
    names = [*before, *(name for name in after if name not in before)]
    return [
        AuditEntry(at, user_id, name, before.get(name, UNSET), after.get(name, UNSET))
        for name in names
        if before.get(name) != after.get(name)
    ]


def quota_text(videos: int | None, reset_hour: int | None, speaker: Speaker = ENGLISH) -> str:
    """ "5 videos per rolling 24 h", "5 videos per day from 06:00 UTC", "no limit" (in English as the audit
    trail stores it, or in `speaker`'s language as an admin reads it)."""
    if videos is None:
        return speaker.say("no limit")
    if reset_hour is None:
        rolling = marked("1 video per rolling 24 h") if videos == 1 else marked("{videos} videos per rolling 24 h")
        return speaker.say(rolling, videos=videos)
    daily = (
        marked("1 video per day from {hour}:00 UTC")
        if videos == 1
        else marked("{videos} videos per day from {hour}:00 UTC")
    )
    return speaker.say(daily, videos=videos, hour=f"{reset_hour:02d}")


def _limits_items(where: str, limits: ScopeLimits) -> dict[str, str]:
    items = {}
    if limits.cooldown_s is not None:
        items[f"{where} cooldown"] = f"{limits.cooldown_s:g} s"
    if limits.max_steps is not None:
        items[f"{where} max steps"] = str(limits.max_steps)
    if limits.max_frames is not None:
        items[f"{where} max frames"] = str(limits.max_frames)
    if limits.max_size is not None:
        items[f"{where} max size"] = limits.max_size.replace("x", "×")
    return items


def _mentions(ids: frozenset[int], template: str) -> str:
    return ", ".join(template.format(each) for each in sorted(ids)) or "none (everywhere / everyone)"
