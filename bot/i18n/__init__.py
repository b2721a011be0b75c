"""The member's language: catalogues, who speaks which, and the command tree's translator.

    catalogue.py   the gettext catalogues in `bot/locales/` (one `.po` per language), read with Babel
    speaker.py     `Speaker`: one language's messages, numbers and durations; `speaker_for(locale)`
    commands.py    `CatalogueTranslator`: command descriptions and choices for Discord's localizations
    extract.py     `python -m bot.i18n.extract`: the template from the code, merged into every catalogue

Texts are written in English in the code, wrapped where they are said (`speaker.say("…")`), marked
where they are defined (`marked("…")`, discord.py's `locale_str("…")`) or kept to be said later in
whichever language (`Text("…", name=value)`: an error's message); the English text is the key.
A text missing from a catalogue is said in English, never as a key.
"""

from bot.i18n.catalogue import SOURCE_LOCALE, shipped_locales
from bot.i18n.speaker import ENGLISH, Speaker, Text, current_speaker, marked, speaker_for, speaking

__all__ = [
    "ENGLISH",
    "SOURCE_LOCALE",
    "Speaker",
    "Text",
    "current_speaker",
    "marked",
    "shipped_locales",
    "speaker_for",
    "speaking",
]
