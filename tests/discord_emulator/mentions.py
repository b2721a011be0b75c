"""Who a message would ping, from its content and `allowed_mentions`, by Discord's rules.

Tests use this to assert things like "a prompt containing @everyone pings nobody" without caring how
the bot achieved it (escaping, allowed_mentions, or both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .models import Guild, Message

MENTION_EVERYONE = 1 << 17
_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)\b")


@dataclass(frozen=True)
class Pings:
    """The notifications a message causes."""

    users: frozenset[int]
    roles: frozenset[int]
    everyone: bool

    @property
    def anyone(self) -> bool:
        """Whether anybody at all is notified."""
        return bool(self.users or self.roles or self.everyone)


def pings(message: Message, guild: Guild | None, bot_permissions: int) -> Pings:
    """The pings of `message`, posted by the bot with `bot_permissions` in its channel.

    Without `allowed_mentions` every parsed mention is allowed (Discord's default for bots). Role
    pings need a mentionable role (all emulated roles are) and @everyone/@here needs MENTION_EVERYONE.
    Ephemeral messages notify nobody.
    """
    if message.ephemeral:
        return Pings(frozenset(), frozenset(), everyone=False)
    content = message.content
    users = {int(found) for found in _USER.findall(content)}
    roles = {int(found) for found in _ROLE.findall(content)}
    if guild is not None:
        roles &= {role.id for role in guild.roles}
    everyone = bool(_EVERYONE.search(content)) and bool(bot_permissions & MENTION_EVERYONE)
    allowed = message.allowed_mentions
    if allowed is None:
        return Pings(frozenset(users), frozenset(roles), everyone)
    parse = set(allowed.get("parse") or [])
    return Pings(
        users=frozenset(users if "users" in parse else users & _ids(allowed, "users")),
        roles=frozenset(roles if "roles" in parse else roles & _ids(allowed, "roles")),
        everyone=everyone and "everyone" in parse,
    )


def _ids(allowed: dict[str, Any], key: str) -> set[int]:
    return {int(value) for value in allowed.get(key) or []}
