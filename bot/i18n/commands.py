"""Command descriptions and choices in every shipped language, for Discord's localizations.

discord.py passes every command, option and choice text through the tree's `Translator` when it
syncs, so commands localize from the catalogues without their cogs doing anything. Command and option
names stay English in every language: error messages and prompt flags name options as typed
(`frames`, `guidance`, `-steps 30`), so a member must see those names whatever their language.
"""

from __future__ import annotations

import logging
from typing import Final

import discord
from discord import app_commands

from bot.i18n.speaker import Text, speaker_for

log = logging.getLogger(__name__)

_KEPT_ENGLISH: Final = frozenset(
    {
        app_commands.TranslationContextLocation.command_name,
        app_commands.TranslationContextLocation.group_name,
        app_commands.TranslationContextLocation.parameter_name,
    }
)
_TEXT_MAX_CHARS: Final = 100  # a description's and a choice name's limit alike


def command_text(text: Text) -> app_commands.locale_str:
    """A command text with `{placeholders}` (or `Text` values): Discord's default is its English, and
    the translator says it in each language. (A plain `locale_str("… {n} …", n=…)` would reach Discord
    unformatted: discord.py sends a `locale_str`'s message as it is.)"""
    return app_commands.locale_str(str(text), text=text)


class CatalogueTranslator(app_commands.Translator):
    """Descriptions and choice names from the catalogues; names and untranslated texts stay English."""

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        """The text in `locale`, or None (Discord then shows the English one)."""
        if context.location in _KEPT_ENGLISH:
            return None
        speaker = speaker_for(locale)
        kept = string.extras.get("text")
        if isinstance(kept, Text):
            text = speaker.say(kept) if speaker.translated(kept.text) is not None else None
        else:
            text = speaker.translated(string.message)
        if text is None or text == string.message:
            return None  # nothing to localize: Discord shows the English (a size name an admin chose, say)
        if len(text) > _TEXT_MAX_CHARS:
            # Discord refuses the whole sync for one text over its limit: better English than no commands.
            log.warning("a %s translation is over %d characters: %r", locale.value, _TEXT_MAX_CHARS, text)
            return None
        return text
