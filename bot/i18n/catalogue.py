"""The catalogues: `bot/locales/<locale>/LC_MESSAGES/videobot.po`, one per language, read as they are.

Why gettext through Babel rather than Fluent: Babel is kept up (2.19, releases every few months, used
by Sphinx, Flask-Babel and Django's tooling) and also formats numbers and durations in any locale,
which the bot needs anyway; fluent.runtime's last release is 0.4.0 (2022) and it depends on Babel
itself. A `.po` file is what translators' tools (Poedit, Weblate, Crowdin) edit, and the English text
is its key, so a translator reads the message, not an identifier.

The `.po` files are read directly with Babel's parser, not compiled to `.mo`: six small files load in
milliseconds, and a plain clone, a wheel and the image all run without a build step. Fuzzy and empty
entries are left out, so a text a translator has not confirmed is said in English.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final

from babel.messages.pofile import read_po

SOURCE_LOCALE: Final = "en"
"""The language the texts are written in, in the code: it needs no catalogue."""

DOMAIN: Final = "videobot"


def locales_folder() -> Traversable:
    """`bot/locales`, inside the installed package."""
    return resources.files("bot").joinpath("locales")


@functools.cache
def shipped_locales() -> tuple[str, ...]:
    """The languages with a catalogue, as Babel names them (`de`, `es_ES`, `pt_BR`), sorted."""
    return tuple(
        sorted(
            folder.name
            for folder in locales_folder().iterdir()
            if folder.is_dir() and folder.joinpath("LC_MESSAGES", f"{DOMAIN}.po").is_file()
        )
    )


@functools.cache
def translations(locale: str) -> Mapping[str, str]:
    """English text → its translation in `locale`, for every confirmed entry of that language's catalogue."""
    path = locales_folder().joinpath(locale, "LC_MESSAGES", f"{DOMAIN}.po")
    with path.open("rb") as file:
        catalog = read_po(file, locale=locale, domain=DOMAIN)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and isinstance(message.id, str) and message.string and not message.fuzzy
    }
