"""How `/videoadmin rules show` and `/videoadmin audit` put the rules in front of an admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord

from bot.moderation.precedence import EffectiveRules, Source, Sourced
from bot.moderation.rules_audit import BY_THE_BOT, AuditEntry, quota_text

_IDS_SHOWN = 20


def audit_line(entry: AuditEntry) -> str:
    """One change as an admin reads it: when, who, what, old → new."""
    who = "the bot" if entry.user_id == BY_THE_BOT else f"<@{entry.user_id}>"
    return f"<t:{int(entry.at)}:f> {who} · {entry.what}: {entry.old} → {entry.new}"


def rules_embed(here: EffectiveRules, where: str, added: tuple[str, ...] = ()) -> discord.Embed:
    """Each effective value and where it comes from; `added`: the server's own blocklist entries, shown in
    full (the operator's are only counted: they are the operator's to show)."""

    def blocklist(entries: tuple[str, ...]) -> str:
        theirs = len(entries) - len(added)
        return f"the operator's {theirs} entr{'y' if theirs == 1 else 'ies'}" + (
            f" + {', '.join(f'`{e}`' for e in added)}" if added else ""
        )

    lines = [
        _line("Channels where /video works", here.allowed_channel_ids, lambda ids: _ids(ids, "<#{}>", "every channel")),
        _line("Roles allowed", here.allowed_role_ids, lambda ids: _ids(ids, "<@&{}>", "everyone")),
        _line("Blocklist", here.blocklist, blocklist),
        _line("Blocklist mode", here.blocklist_mode, lambda mode: mode.value.replace("_", " ")),
        _line("Cooldown", here.cooldown_s, lambda seconds: f"{seconds:g} s"),
        _line("Max steps", here.max_steps, str),
        _line("Max frames", here.max_frames, str),
        _line("Max size", here.max_size, lambda size: "the model's sizes" if size is None else size.replace("x", "×")),
        _line("Daily quota", here.daily_quota, lambda videos: quota_text(videos, here.quota_reset_hour.value)),
        _line("Jobs held at once", here.max_held, lambda held: "the queue's cap" if held is None else str(held)),
        _line("Weight in the fair order", here.weight, str),
    ]
    for role_id, perk in sorted(here.perks.items()):
        raised = [
            f"{name} {value}"
            for name, value in (("quota", perk.daily_quota), ("held", perk.max_held), ("weight", perk.weight))
            if value is not None
        ]
        lines.append(f"**Perk of <@&{role_id}>**: {', '.join(raised)} · {Source.ROLE.value}")
    return discord.Embed(title=f"Rules in {where}", description="\n".join(lines)[:4096])


def _line(name: str, value: Sourced[Any], shown: Callable[[Any], str]) -> str:
    role = f" <@&{value.role_id}>" if value.role_id is not None else ""
    return f"**{name}**: {shown(value.value)} · {value.source.value}{role}"


def _ids(ids: frozenset[int], template: str, empty: str) -> str:
    return ", ".join(template.format(each) for each in sorted(ids)[:_IDS_SHOWN]) or empty
