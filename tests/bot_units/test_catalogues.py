"""The catalogues: every text the code says is in every shipped language, with the same placeholders,
and the template is the one the code gives (`python -m bot.i18n.extract`)."""

from __future__ import annotations

import string

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.i18n import ENGLISH, Speaker, shipped_locales, speaker_for
from bot.i18n.catalogue import DOMAIN, locales_folder
from bot.i18n.extract import TEMPLATE, extracted

SHIPPED = ("de", "es_ES", "fr", "ja", "pt_BR")


def placeholders(text: str) -> set[str]:
    """The names of the `{placeholders}` in a message, e.g. {"reference"}."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def template() -> Catalog:
    with TEMPLATE.open("rb") as file:
        return read_po(file)


def catalogue(locale: str) -> Catalog:
    with locales_folder().joinpath(locale, "LC_MESSAGES", f"{DOMAIN}.po").open("rb") as file:
        return read_po(file, locale=locale)


def keys(catalog: Catalog) -> set[str]:
    return {str(message.id) for message in catalog if message.id}


def untranslated(catalog: Catalog, wanted: set[str]) -> set[str]:
    """The texts of `wanted` that `catalog` does not translate (absent, empty or fuzzy)."""
    confirmed = {str(message.id) for message in catalog if message.id and message.string and not message.fuzzy}
    return wanted - confirmed


def placeholder_mismatches(catalog: Catalog) -> dict[str, tuple[set[str], set[str]]]:
    """English text → (placeholders missing from its translation, placeholders the translation adds)."""
    mismatches = {}
    for message in catalog:
        if not (message.id and message.string):
            continue
        english, translated = placeholders(str(message.id)), placeholders(str(message.string))
        if english != translated:
            mismatches[str(message.id)] = (english - translated, translated - english)
    return mismatches


def test_the_shipped_languages_are_german_french_spanish_brazilian_portuguese_and_japanese() -> None:
    assert shipped_locales() == SHIPPED


def test_the_template_holds_exactly_the_texts_the_code_says() -> None:
    assert keys(template()) == keys(extracted())


@pytest.mark.parametrize("locale", SHIPPED)
def test_every_text_is_translated_in_every_catalogue(locale: str) -> None:
    assert untranslated(catalogue(locale), keys(template())) == set()
    assert keys(catalogue(locale)) == keys(template())


@pytest.mark.parametrize("locale", SHIPPED)
def test_every_translation_has_the_placeholders_of_its_english_text(locale: str) -> None:
    assert placeholder_mismatches(catalogue(locale)) == {}


def test_a_translation_missing_a_placeholder_or_adding_one_is_caught() -> None:
    broken = Catalog(locale="de")
    broken.add("Queue ({count})", "Warteschlange")
    broken.add("Cancelled {count} video(s).", "{anzahl} Video(s) abgebrochen.")

    assert placeholder_mismatches(broken) == {
        "Queue ({count})": ({"count"}, set()),
        "Cancelled {count} video(s).": ({"count"}, {"anzahl"}),
    }


@pytest.mark.parametrize(
    ("discord_locale", "speaker"),
    [
        ("de", Speaker("de")),
        ("ja", Speaker("ja")),
        ("pt-BR", Speaker("pt_BR")),
        ("es-ES", Speaker("es_ES")),
        ("es-419", Speaker("es_ES")),
        ("en-US", ENGLISH),
        ("en-GB", ENGLISH),
        ("sv-SE", ENGLISH),
        ("", ENGLISH),
        (None, ENGLISH),
    ],
)
def test_a_discord_locale_is_spoken_by_its_catalogue_one_of_its_language_or_english(
    discord_locale: str | None, speaker: Speaker
) -> None:
    assert speaker_for(discord_locale) == speaker


def test_a_text_no_catalogue_has_is_said_in_english_with_its_placeholders_filled() -> None:
    assert Speaker("de").say("{count} new texts nobody has translated yet", count=3) == (
        "3 new texts nobody has translated yet"
    )


def test_numbers_are_written_as_the_language_writes_them() -> None:
    assert [speaker_for(locale).number(1234.5) for locale in ("en-US", "de", "fr", "ja")] == [
        "1,234.5",
        "1.234,5",
        "1\u202f234,5",
        "1,234.5",
    ]
