"""`python -m bot.i18n.extract`: the catalogue template from the code, merged into every language.

It writes `bot/locales/videobot.pot` (every text the code wraps or marks) and updates each
`bot/locales/<locale>/LC_MESSAGES/videobot.po`: new texts arrive untranslated, changed ones fuzzy
(said in English until a translator confirms them), removed ones are dropped. The same as
`pybabel extract` + `pybabel update` with this module's keywords.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n.catalogue import DOMAIN, shipped_locales

#: The calls whose first argument is a text to translate: said, marked, kept, or a discord.py command text.
KEYWORDS: Final = {"say": None, "marked": None, "Text": None, "locale_str": None}

BOT_SOURCE: Final = Path(__file__).resolve().parents[1]
LOCALES_SOURCE: Final = BOT_SOURCE / "locales"
TEMPLATE: Final = LOCALES_SOURCE / f"{DOMAIN}.pot"


def extracted() -> Catalog:
    """Every text the code in `bot/` wraps or marks, with where it is used."""
    catalog = Catalog(project="videobot", domain=DOMAIN, charset="utf-8")
    found = extract_from_dir(
        str(BOT_SOURCE), method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    )
    for filename, line, message, comments, context in found:
        location = (f"bot/{filename}", line)
        catalog.add(message, locations=[location], auto_comments=comments, context=context)
    return catalog


def main() -> None:
    """Write the template and merge it into each language's catalogue."""
    template = extracted()
    with TEMPLATE.open("wb") as file:
        write_po(file, template, width=120, sort_output=True, include_lineno=False)
    for locale in shipped_locales():
        path = LOCALES_SOURCE / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        with path.open("rb") as file:
            catalog = read_po(file, locale=locale, domain=DOMAIN)
        catalog.update(template)
        with path.open("wb") as file:
            write_po(
                file,
                catalog,
                width=120,
                sort_output=True,
                ignore_obsolete=True,
                include_previous=True,
                include_lineno=False,
            )
        print(f"{path.relative_to(BOT_SOURCE.parent)}: {len(catalog)} texts")


if __name__ == "__main__":
    main()
