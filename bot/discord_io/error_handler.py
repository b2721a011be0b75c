"""The one place that turns errors into replies: expected ones verbatim, the rest generically.

Expected errors (`EngineError` and subclasses, missing permissions, failed checks) are written for
users and sent as they are, ephemerally (a used-up quota with Discord timestamps of when it frees up);
a command sent in an outdated shape (Discord's command cache) gets "run it again". Anything else is a
bug: it is logged with the command, user and guild, and the user gets a short generic message with a
reference to find the log line.

Replies are in the member's language (`interaction.locale`): the bot's own errors carry their English
text and its parameters, and are said from the catalogue; the engine's are sent in English.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord
from discord import app_commands

from bot.discord_io import render
from bot.discord_io.acknowledgement import acknowledgement_of
from bot.discord_io.command_cache import JUST_UPDATED
from bot.errors import BotError
from bot.i18n import Speaker, speaker_for
from bot.i18n.engine_texts import allowed_range
from generation.errors import EngineError, InvalidRequestError, QuotaExceededError

log = logging.getLogger(__name__)

EXPECTED = (EngineError, BotError)


async def reply_ephemeral(interaction: discord.Interaction[Any], message: str) -> None:
    """Answer only the user who acted, whether or not the interaction was answered or deferred already."""
    ack = acknowledgement_of(interaction)
    if ack is not None:
        await ack.refuse(message)
        return
    message = message[:2000]
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
        else:
            await interaction.response.send_message(
                message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
    except discord.HTTPException:
        log.warning("could not send an error reply to user_id=%s", interaction.user.id)


def said_to(speaker: Speaker, error: BotError | EngineError) -> str:
    """An expected error's message in `speaker`'s language. The engine's (`generation/` knows no languages)
    in English, except a refused request field, whose sentence is the catalogue's around the engine's
    field, value and allowed range (a range the bot knows, `between 1 and 50`, said in it too)."""
    if isinstance(error, BotError):
        return speaker.say(error.said)
    if isinstance(error, InvalidRequestError):
        return speaker.say(
            "{option} must be {allowed} (got {value})",
            option=error.field,
            allowed=allowed_range(error.allowed),
            value=repr(error.value),
        )
    return str(error)


async def report_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Tell the user what went wrong, in their language; log unexpected errors with a reference."""
    speaker = speaker_for(interaction.locale)
    if isinstance(error, QuotaExceededError):
        await reply_ephemeral(interaction, render.quota_refusal(error.used, error.limit, error.resets_at, speaker))
        return
    if isinstance(error, EXPECTED):
        await reply_ephemeral(interaction, said_to(speaker, error))
        return
    if isinstance(error, app_commands.CommandSignatureMismatch | app_commands.CommandNotFound):
        # Not a bug: the member's Discord app sent a command as it was before the bot last changed it.
        log.info("outdated command from user_id=%s: %s", interaction.user.id, error)
        await reply_ephemeral(interaction, speaker.say(JUST_UPDATED))
        return
    if isinstance(error, app_commands.MissingPermissions):
        await reply_ephemeral(
            interaction, speaker.say("You need the Manage Server permission (or the bot admin role) for this.")
        )
        return
    if isinstance(error, app_commands.CheckFailure):
        text = said_to(speaker, error) if isinstance(error, BotError) else str(error)
        await reply_ephemeral(interaction, text or speaker.say("You can't use this command here."))
        return
    reference = secrets.token_hex(4)
    command = interaction.command.qualified_name if interaction.command else interaction.data
    log.error(
        "unexpected error ref=%s command=%s user_id=%s guild_id=%s",
        reference,
        command,
        interaction.user.id,
        interaction.guild_id,
        exc_info=error,
    )
    await reply_ephemeral(
        interaction,
        speaker.say(
            "Something went wrong on my side (reference `{reference}`). Please try again.", reference=reference
        ),
    )


async def report_app_command_error(interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
    """What the command tree calls on an error: unwrap the command's own exception and report it."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    await report_error(interaction, original)
