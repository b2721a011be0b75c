"""How `/videoadmin rules show` and `/videoadmin audit` put the rules in front of an admin, in their language.

The audit trail's values are stored as they were said at the time (English, `bot.moderation.rules_audit`)
and shown as stored; only the labels around them are translated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import discord

from bot.i18n import ENGLISH, Speaker, marked
from bot.moderation.precedence import EffectiveRules, Sourced
from bot.moderation.rules import BlocklistMode
from bot.moderation.rules_audit import BY_THE_BOT, AuditEntry, quota_text

_IDS_SHOWN = 20

#: Each shipped language by its own name, as the language rule's choices show it (the same in every language).
LANGUAGE_NAMES: Final = {
    "en-US": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es-ES": "Español (España)",
    "pt-BR": "Português (Brasil)",
    "ja": "日本語",
}
FOLLOW_DISCORD: Final = marked("Discord's server language")
_MODES: Final = {
    BlocklistMode.REFUSE_EVERYWHERE: marked("refuse everywhere"),
    BlocklistMode.REFUSE_OUTSIDE_NSFW: marked("refuse outside nsfw"),
}


def audit_line(entry: AuditEntry, speaker: Speaker = ENGLISH) -> str:
    """One change as an admin reads it: when, who, what, old → new (as stored)."""
    who = speaker.say("the bot") if entry.user_id == BY_THE_BOT else f"<@{entry.user_id}>"
    return f"<t:{int(entry.at)}:f> {who} · {entry.what}: {entry.old} → {entry.new}"


def rules_embed(
    here: EffectiveRules, where: str, added: tuple[str, ...] = (), speaker: Speaker = ENGLISH
) -> discord.Embed:
    """Each effective value and where it comes from; `added`: the server's own blocklist entries, shown in
    full (the operator's are only counted: they are the operator's to show)."""
    say = speaker.say

    def blocklist(entries: tuple[str, ...]) -> str:
        theirs = len(entries) - len(added)
        theirs_said = (
            say("the operator's 1 entry") if theirs == 1 else say("the operator's {count} entries", count=theirs)
        )
        return theirs_said + (f" + {', '.join(f'`{e}`' for e in added)}" if added else "")

    def line(name: str, value: Sourced[Any], shown: Callable[[Any], str]) -> str:
        role = f" <@&{value.role_id}>" if value.role_id is not None else ""
        return f"**{say(name)}**: {shown(value.value)} · {say(value.source.value)}{role}"

    lines = [
        line(
            marked("Channels where /video works"),
            here.allowed_channel_ids,
            lambda ids: _ids(ids, "<#{}>", say("every channel")),
        ),
        line(marked("Roles allowed"), here.allowed_role_ids, lambda ids: _ids(ids, "<@&{}>", say("everyone"))),
        line(marked("Blocklist"), here.blocklist, blocklist),
        line(marked("Blocklist mode"), here.blocklist_mode, lambda mode: say(_MODES[mode])),
        line(marked("Cooldown"), here.cooldown_s, lambda seconds: say("{seconds} s", seconds=speaker.number(seconds))),
        line(marked("Max steps"), here.max_steps, str),
        line(marked("Max frames"), here.max_frames, str),
        line(
            marked("Max size"),
            here.max_size,
            lambda size: say("the model's sizes") if size is None else size.replace("x", "×"),
        ),
        line(
            marked("Daily quota"),
            here.daily_quota,
            lambda videos: quota_text(videos, here.quota_reset_hour.value, speaker),
        ),
        line(
            marked("Jobs held at once"),
            here.max_held,
            lambda held: say("the queue's cap") if held is None else str(held),
        ),
        line(marked("Weight in the fair order"), here.weight, str),
        line(
            marked("Language of public posts"),
            here.language,
            lambda locale: say(FOLLOW_DISCORD) if locale is None else LANGUAGE_NAMES.get(locale, locale),
        ),
    ]
    for role_id, perk in sorted(here.perks.items()):
        raised = [
            say(name, value=value)
            for name, value in (
                (marked("quota {value}"), perk.daily_quota),
                (marked("held {value}"), perk.max_held),
                (marked("weight {value}"), perk.weight),
            )
            if value is not None
        ]
        perk_of = say("Perk of {role}", role=f"<@&{role_id}>")
        lines.append(f"**{perk_of}**: {', '.join(raised)} · {say(marked('role perk'))}")
    return discord.Embed(title=say("Rules in {where}", where=where), description="\n".join(lines)[:4096])


def _ids(ids: frozenset[int], template: str, empty: str) -> str:
    return ", ".join(template.format(each) for each in sorted(ids)[:_IDS_SHOWN]) or empty
