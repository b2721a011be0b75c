"""`Speaker`: what the bot says, in one member's (or one server's) language.

Whose language: the member's (`interaction.locale`) for what only they read (ephemeral replies, their
own status message), the server's (`interaction.guild_locale`) for public posts. Discord names
locales `de`, `es-ES`, `pt-BR`; a locale with no catalogue of its own takes one of the same language
(`es-419` → `es_ES`), and anything else is English.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final

from babel.numbers import format_decimal

from bot.i18n.catalogue import SOURCE_LOCALE, shipped_locales, translations


def marked(text: str) -> str:
    """`text` unchanged: marks a text defined away from where it is said, for the catalogue template."""
    return text


class Text:
    """A message said later, in whichever language: its English text (the catalogue's key) and the values
    of its `{placeholders}`, which may be `Text`s themselves (a refusal's "between 1 and 30 on this server").

    `str()` of it is the English; `Speaker.say` says it in another language.
    """

    __slots__ = ("params", "text")

    def __init__(self, text: str, /, **params: object) -> None:
        self.text = text
        self.params = params

    def __str__(self) -> str:
        return ENGLISH.say(self)

    def __repr__(self) -> str:
        return f"Text({self.text!r}, **{self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and (self.text, self.params) == (other.text, other.params)

    __hash__ = None  # type: ignore[assignment]  # its values may be unhashable, as a dict's are


@dataclass(frozen=True)
class Speaker:
    """One language: its texts (English where its catalogue has none), numbers and durations.

    `locale` is Babel's name for it (`de`, `pt_BR`); English, the source, is `en`.
    """

    locale: str = SOURCE_LOCALE

    def say(self, text: str | Text, /, **params: object) -> str:
        """`text` (the English message, the catalogue's key) in this language, its `{placeholders}` filled;
        a value that is a `Text` is said in this language too."""
        if isinstance(text, Text):
            return self.say(text.text, **{**text.params, **params})
        said = text if self.locale == SOURCE_LOCALE else translations(self.locale).get(text, text)
        if not params:
            return said
        return said.format(
            **{name: self.say(value) if isinstance(value, Text) else value for name, value in params.items()}
        )

    def translated(self, text: str) -> str | None:
        """`text` in this language, unformatted, or None when its catalogue lacks it (or it is English)."""
        return None if self.locale == SOURCE_LOCALE else translations(self.locale).get(text)

    def number(self, value: float, decimals: int | None = None) -> str:
        """A number as this language writes it (`7.5` → `7,5` in German, `1234` → `1,234` in English),
        with exactly `decimals` decimals when given (`1` → `1.00`).

        A duration is a number with its unit from the catalogue ("{seconds} s"); a time from now is a
        Discord timestamp (`<t:…:R>`), which each member's app writes in their own language.
        """
        pattern = None if decimals is None else "#,##0." + "0" * decimals if decimals else "#,##0"
        return str(format_decimal(value, format=pattern, locale=self.locale))


ENGLISH: Final = Speaker()


def speaker_for(locale: object) -> Speaker:
    """The speaker for a Discord locale (`discord.Locale` or its value, e.g. "pt-BR"); English when unknown."""
    value = getattr(locale, "value", locale)
    if not isinstance(value, str) or not value:
        return ENGLISH
    wanted = value.replace("-", "_")
    shipped = shipped_locales()
    if wanted in shipped:
        return Speaker(wanted)
    language = wanted.split("_")[0].lower()
    same_language = [each for each in shipped if each.split("_")[0].lower() == language]
    return Speaker(same_language[0]) if same_language else ENGLISH


_CURRENT: Final[ContextVar[Speaker]] = ContextVar("videobot_speaker", default=ENGLISH)


def current_speaker() -> Speaker:
    """The speaker of the interaction being handled (`speaking`), else English.

    A bridge for texts built where no speaker is passed yet (the status message's first states): tasks
    started while a member's interaction is handled keep that member's language.
    """
    return _CURRENT.get()


@contextlib.contextmanager
def speaking(speaker: Speaker) -> Iterator[Speaker]:
    """Make `speaker` the current one for the code run (and the tasks started) inside the block."""
    token = _CURRENT.set(speaker)
    try:
        yield speaker
    finally:
        _CURRENT.reset(token)
