"""Discord's rules on slash command names and localizations, where its OpenAPI description says less.

The spec gives lengths (a name 1-32 characters, a description 1-100, at most 34 localizations) but not:

- the keys of every `name_localizations` and `description_localizations` (of a command, an option or a
  choice) must be Discord locales (`AvailableLocalesEnum`: `de`, `es-ES`, `pt-BR`, ...);
- a chat-input command's name, each option's name and each of their localized names must match
  `^[-_\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`, in lowercase wherever a letter has a lowercase form.

A choice's name is free text (1-100 characters, in the spec). Breaking a rule gets Discord's 400 Invalid
Form Body (50035) with `errors` naming the field, as `message_limits` does.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from .openapi import SchemaProblem

_COMMAND_ROUTES = {
    ("PUT", "/applications/{application_id}/commands"),
    ("POST", "/applications/{application_id}/commands"),
    ("PATCH", "/applications/{application_id}/commands/{command_id}"),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ("POST", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ("PATCH", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}"),
}
_CHAT_INPUT = 1
_NAME_MAX_CHARS = 32
# Devanagari and Thai: their vowel signs and marks are allowed as well as their letters and digits.
_SCRIPTS = ((0x0900, 0x097F), (0x0E00, 0x0E7F))


def misnamed(method: str, route: str, body: Any, locales: frozenset[str]) -> list[SchemaProblem]:
    """How the commands in a request body (already valid against the spec) break the naming rules.

    `locales` are the keys Discord accepts in a localization dict (the spec's `AvailableLocalesEnum`).
    """
    if (method, route) not in _COMMAND_ROUTES:
        return []
    commands = body if isinstance(body, list) else [body]
    problems: list[SchemaProblem] = []
    for index, command in enumerate(commands):
        if not isinstance(command, dict):
            continue
        at = (str(index),) if isinstance(body, list) else ()
        problems += _problems(command, at, locales, named=command.get("type", _CHAT_INPUT) == _CHAT_INPUT)
    return problems


def slash_name_problem(name: str) -> str | None:
    """Why `name` cannot name a slash command or option, or None when it can."""
    if not 1 <= len(name) <= _NAME_MAX_CHARS:
        return f"Must be between 1 and {_NAME_MAX_CHARS} in length."
    if any(not _allowed(character) for character in name):
        return "Command name is invalid"
    if name.lower() != name:
        return "Command name must be lowercase"
    return None


def _problems(
    item: dict[str, Any], at: tuple[str, ...], locales: frozenset[str], *, named: bool
) -> list[SchemaProblem]:
    problems = []
    for key in ("name_localizations", "description_localizations"):
        for locale in item.get(key) or {}:
            if locale not in locales:
                problems.append(_problem((*at, key, locale), f"Invalid Locale {locale!r}"))
    if named:
        for location, name in _names(item, at):
            reason = slash_name_problem(name)
            if reason is not None:
                problems.append(_problem(location, reason))
    for index, option in enumerate(item.get("options") or []):
        problems += _problems(option, (*at, "options", str(index)), locales, named=named)
    for index, choice in enumerate(item.get("choices") or []):
        problems += _problems(choice, (*at, "choices", str(index)), locales, named=False)
    return problems


def _names(item: dict[str, Any], at: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    yield (*at, "name"), str(item.get("name", ""))
    for locale, name in (item.get("name_localizations") or {}).items():
        yield (*at, "name_localizations", locale), str(name)


def _allowed(character: str) -> bool:
    if character in "-_" or unicodedata.category(character)[0] in "LN":
        return True
    return any(low <= ord(character) <= high for low, high in _SCRIPTS)


def _problem(location: tuple[str, ...], message: str) -> SchemaProblem:
    return SchemaProblem("$." + ".".join(location), message, location)
