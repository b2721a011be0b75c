"""Commands that reach the bot in an older shape than the one it registered.

Discord's clients cache each command's options (a global command for up to an hour). When the bot's
`/video` changes (another model served, a text model swapped for one that animates pictures), a member
may still send the old shape: an option the command no longer has, one of another type, or without one
that is now required. discord.py refuses a missing required option (`CommandSignatureMismatch`) but
silently drops an option it does not know, which would run a request without what the member gave
(a picture, say). `outdated_command` catches both before the command runs; the error handler answers
either with `JUST_UPDATED`.
"""

from __future__ import annotations

from typing import Any, Final

import discord
from discord import app_commands

from bot.i18n import marked

JUST_UPDATED: Final = marked(
    "This command was just updated and your Discord app sent its old version; run it again "
    "(if the old options still show, restart the app or wait a minute)."
)

_NESTING: Final = (discord.AppCommandOptionType.subcommand.value, discord.AppCommandOptionType.subcommand_group.value)


def outdated_command(tree: app_commands.CommandTree[Any], interaction: discord.Interaction[Any]) -> Any | None:
    """The slash command `interaction` invokes when it sends an option the command does not declare, or
    one of another type; None when the options fit (or the command is unknown: discord.py says so)."""
    data: dict[str, Any] = dict(interaction.data or {})
    if interaction.type is not discord.InteractionType.application_command or data.get("type", 1) != 1:
        return None
    guild_id = data.get("guild_id")
    name = str(data.get("name", ""))
    command: Any = tree.get_command(name, guild=discord.Object(int(guild_id)) if guild_id else None)
    if command is None:
        command = tree.get_command(name)
    options: list[dict[str, Any]] = list(data.get("options") or [])
    while isinstance(command, app_commands.Group):
        nested = next((option for option in options if option.get("type") in _NESTING), None)
        if nested is None:
            return None  # a group invoked as a command: discord.py reports the mismatch itself
        command = command.get_command(str(nested.get("name")))
        options = list(nested.get("options") or [])
    if command is None:
        return None
    declared = {parameter.display_name: parameter.type.value for parameter in command.parameters}
    if any(declared.get(str(option.get("name"))) != option.get("type") for option in options):
        return command
    return None
