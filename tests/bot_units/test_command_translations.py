"""The command tree's translator: descriptions and choices from the catalogues, names kept English,
and texts with placeholders sent to Discord formatted, in English by default."""

from __future__ import annotations

import discord
from discord.app_commands import TranslationContext, TranslationContextLocation, locale_str

from bot.i18n import Text
from bot.i18n.commands import CatalogueTranslator, command_text

DESCRIPTION = TranslationContext(TranslationContextLocation.parameter_description, None)
CHOICE = TranslationContext(TranslationContextLocation.choice_name, None)


async def test_a_description_is_translated_for_each_shipped_locale_and_left_to_english_otherwise() -> None:
    text = locale_str("Output size")

    translated = {
        locale: await CatalogueTranslator().translate(text, locale, DESCRIPTION)
        for locale in (discord.Locale.german, discord.Locale.japanese, discord.Locale.swedish)
    }

    assert translated == {
        discord.Locale.german: "Ausgabegröße",
        discord.Locale.japanese: "出力サイズ",
        discord.Locale.swedish: None,
    }


async def test_a_text_with_placeholders_reaches_discord_formatted_in_english_and_each_language() -> None:
    text = command_text(Text("The picture to animate (PNG, JPEG or WebP, up to {mib} MiB)", mib="10"))

    french = await CatalogueTranslator().translate(text, discord.Locale.french, DESCRIPTION)

    assert text.message == "The picture to animate (PNG, JPEG or WebP, up to 10 MiB)"
    assert french == "L'image à animer (PNG, JPEG ou WebP, jusqu'à 10 Mio)"


async def test_a_size_choice_says_its_name_in_the_language_and_keeps_its_dimensions() -> None:
    text = command_text(Text("{size} {width}×{height}", size=Text("landscape"), width=320, height=192))

    german = await CatalogueTranslator().translate(text, discord.Locale.german, CHOICE)

    assert (text.message, german) == ("landscape 320×192", "Querformat 320×192")


async def test_command_and_option_names_stay_english() -> None:
    for location in (TranslationContextLocation.command_name, TranslationContextLocation.parameter_name):
        context = TranslationContext(location, None)
        assert await CatalogueTranslator().translate(locale_str("Model"), discord.Locale.german, context) is None
