"""Who may make videos where, how often, and which prompts are refused: pure rules, no Discord objects.

Blocklist entries come from settings, one per entry:

- `re:PATTERN` is a regular expression, searched case-insensitively in the NFKC-normalised text;
- anything else is a word or phrase matched as whole words after folding both sides the same way:
  NFKC, case-folded, accents dropped, leetspeak digits and symbols read as letters (0→o 1→i 3→e 4→a
  5→s 7→t @→a $→s, only inside tokens that have a letter, so "455" stays a number), punctuation read as
  a word break. Whole words only, so an entry is never found inside a longer word ("Scunthorpe",
  "Essex"); list plural forms separately or use a regex. The one exception: three or more single
  characters in a row ("s.e.x", "s e x", "s.3.x") spell something with no word breaks to go by, so an
  entry is looked for anywhere inside what they spell.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bot.discord_io.sanitize import display_prompt
from bot.i18n import Text

_REGEX_PREFIX: Final = "re:"
_LEET: Final = str.maketrans("013457@$", "oieastas")
_WORD_BREAK: Final = re.compile(r"[\W_]+")
_SPELLED_OUT_MIN: Final = 3
_LISTED_IDS: Final = 10
_SHOWN_TERM_CHARS: Final = 60


@dataclass(frozen=True)
class BlockMatch:
    """Which entry matched, in which field ("prompt" or "negative prompt"), and the text it matched."""

    entry: str
    field: str
    found: str


@dataclass(frozen=True)
class _Rule:
    entry: str
    pattern: re.Pattern[str]
    # The entry's folded words for word entries, matched on folded text; None for regexes.
    words: str | None


@dataclass(frozen=True)
class Blocklist:
    """Compiled blocklist entries; build it with `Blocklist.from_entries` at start-up."""

    rules: tuple[_Rule, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> Blocklist:
        """Compile settings entries; `ValueError` names an entry that is an invalid regex or has no words."""
        rules: list[_Rule] = []
        for entry in (entry.strip() for entry in entries):
            if not entry:
                continue
            if entry.startswith(_REGEX_PREFIX):
                try:
                    pattern = re.compile(entry.removeprefix(_REGEX_PREFIX), re.IGNORECASE)
                except re.error as err:
                    raise ValueError(f"blocklist entry {entry!r} is not a valid regular expression: {err}") from err
                rules.append(_Rule(entry, pattern, words=None))
                continue
            words = " ".join(_words(entry))
            if not words:
                raise ValueError(f"blocklist entry {entry!r} has no letters or digits to match")
            rules.append(_Rule(entry, re.compile(rf"(?<!\S){re.escape(words)}(?!\S)"), words))
        return cls(tuple(rules))

    def match(self, prompt: str, negative_prompt: str = "") -> BlockMatch | None:
        """The first entry found in the prompt, then in the negative prompt; `None` when neither has one."""
        for field, text in (("prompt", prompt), ("negative prompt", negative_prompt)):
            nfkc = unicodedata.normalize("NFKC", text)
            words = _words(text)
            folded = " ".join(words)
            runs = _spelled_out(words)
            for rule in self.rules:
                if rule.words is None:
                    if found := rule.pattern.search(nfkc):
                        return BlockMatch(rule.entry, field, found[0])
                elif found := rule.pattern.search(folded):
                    return BlockMatch(rule.entry, field, found[0])
                elif any(rule.words.replace(" ", "") in run for run in runs):
                    return BlockMatch(rule.entry, field, rule.words)
        return None


def _words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))
    words: list[str] = []
    for token in text.split():
        if any(char.isalpha() for char in token):
            token = token.translate(_LEET)
        words.extend(word for word in _WORD_BREAK.split(token) if word)
    return words


def _spelled_out(words: list[str]) -> list[str]:
    """Runs of single characters ("s", "e", "x") joined up.

    A run has no word breaks of its own ("a s e x" is "a" then "sex"), so entries are looked for
    anywhere inside it rather than as whole words.
    """
    runs: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1:
            run.append(word)
            continue
        if len(run) >= _SPELLED_OUT_MIN:
            runs.append("".join(run))
        run = []
    return runs


class Cooldown:
    """The minimum time between two videos of one user; `now` comes from the caller's monotonic clock.

    Kept in memory and used from the event loop only; `seconds=0` turns it off.
    """

    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cooldown seconds must be at least 0, got {seconds}")
        self._seconds = seconds
        self._last: dict[int, float] = {}

    def __len__(self) -> int:
        """How many users are remembered: at most those recorded within `seconds` of the latest record."""
        return len(self._last)

    def check(self, user_id: int, now: float) -> float | None:
        """Seconds `user_id` must still wait, or `None` if they may start a video now."""
        last = self._last.get(user_id)
        if last is None:
            return None
        remaining = last + self._seconds - now
        return remaining if remaining > 0 else None

    def record(self, user_id: int, now: float) -> None:
        """Start `user_id`'s cooldown at `now` (call when a video is accepted, not when it is asked for)."""
        # Forget users whose cooldown is over, so the table holds only recent users.
        self._last = {user: last for user, last in self._last.items() if now - last < self._seconds}
        if self._seconds:
            self._last[user_id] = now

    def forget(self, user_id: int, recorded_at: float) -> None:
        """Undo the `record` made at `recorded_at` (the request it was for was not accepted after all)."""
        if self._last.get(user_id) == recorded_at:
            del self._last[user_id]


class BlocklistMode(StrEnum):
    """Where prompts that match the blocklist are refused."""

    REFUSE_EVERYWHERE = "refuse_everywhere"
    REFUSE_OUTSIDE_NSFW = "refuse_outside_nsfw"


class RefusalReason(StrEnum):
    """Why a request was refused; for logs and metrics (the message is for the user)."""

    DMS_DISABLED = "dms_disabled"
    CHANNEL_NOT_ALLOWED = "channel_not_allowed"
    MISSING_ROLE = "missing_role"
    BLOCKED_PROMPT = "blocked_prompt"
    COOLDOWN = "cooldown"


@dataclass(frozen=True)
class Refusal:
    """A refusal with a specific message meant for an ephemeral reply to the user who asked, said in
    their language (`said`)."""

    reason: RefusalReason
    said: Text

    @property
    def message(self) -> str:
        """The message in English."""
        return str(self.said)


@dataclass(frozen=True, kw_only=True)
class AccessPolicy:
    """Where the bot works and for whom; empty id sets mean "everywhere" and "everyone"."""

    allowed_channel_ids: frozenset[int] = frozenset()
    allowed_role_ids: frozenset[int] = frozenset()
    allow_dms: bool = False
    admin_role_ids: frozenset[int] = frozenset()
    blocklist_mode: BlocklistMode = BlocklistMode.REFUSE_OUTSIDE_NSFW


@dataclass(frozen=True, kw_only=True)
class AccessContext:
    """Where a request comes from and who sent it; `guild_id` is `None` in DMs.

    For a thread, `parent_channel_id` is its channel and `channel_is_nsfw` the parent's setting
    (threads inherit it).
    """

    guild_id: int | None
    channel_id: int
    parent_channel_id: int | None = None
    channel_is_nsfw: bool = False
    role_ids: frozenset[int] = frozenset()
    can_manage_guild: bool = False


def is_admin(ctx: AccessContext, policy: AccessPolicy) -> bool:
    """Whether the user may run the bot's admin commands: Manage Server, or one of the admin roles."""
    return ctx.guild_id is not None and (ctx.can_manage_guild or bool(ctx.role_ids & policy.admin_role_ids))


def check_access(ctx: AccessContext, policy: AccessPolicy, *, blocked: BlockMatch | None = None) -> Refusal | None:
    """The first reason to refuse this request, or `None` to go ahead.

    Checked in order: DMs, channel, role (admins need none), then `blocked`, the prompt's blocklist
    match if any. The channel rule binds admins too, so the bot stays out of channels it was kept from.
    """
    if ctx.guild_id is None:
        if not policy.allow_dms:
            return Refusal(
                RefusalReason.DMS_DISABLED,
                Text("I don't make videos in direct messages. Use /video in a server channel where I'm enabled."),
            )
    else:
        allowed = policy.allowed_channel_ids
        if allowed and not {ctx.channel_id, ctx.parent_channel_id} & allowed:
            return Refusal(
                RefusalReason.CHANNEL_NOT_ALLOWED,
                Text("I can't make videos in this channel. Try {channels}.", channels=_listed(allowed, "<#{}>")),
            )
        roles = policy.allowed_role_ids
        if roles and not ctx.role_ids & roles and not is_admin(ctx, policy):
            return Refusal(
                RefusalReason.MISSING_ROLE,
                Text("You need one of these roles to make videos here: {roles}.", roles=_listed(roles, "<@&{}>")),
            )
    if blocked is not None:
        return _blocked_refusal(blocked, ctx, policy)
    return None


def cooldown_refusal(remaining: float) -> Refusal:
    """The refusal for a user still on cooldown for `remaining` seconds (rounded up)."""
    seconds = max(1, math.ceil(remaining))
    if seconds == 1:
        return Refusal(RefusalReason.COOLDOWN, Text("Slow down: you can make another video in 1 second."))
    return Refusal(
        RefusalReason.COOLDOWN, Text("Slow down: you can make another video in {seconds} seconds.", seconds=seconds)
    )


def _blocked_refusal(blocked: BlockMatch, ctx: AccessContext, policy: AccessPolicy) -> Refusal | None:
    term = f"“{display_prompt(blocked.found, _SHOWN_TERM_CHARS)}”"
    field = Text("prompt") if blocked.field == "prompt" else Text("negative prompt")
    if policy.blocklist_mode is BlocklistMode.REFUSE_EVERYWHERE:
        said = Text(
            "Your {field} contains {term}, which is not allowed on this server. Rephrase it and try again.",
            field=field,
            term=term,
        )
    elif ctx.channel_is_nsfw:
        return None
    else:
        said = Text(
            "Your {field} contains {term}, which is only allowed in age-restricted channels. "
            "Rephrase it and try again.",
            field=field,
            term=term,
        )
    return Refusal(RefusalReason.BLOCKED_PROMPT, said)


def _listed(ids: frozenset[int], template: str) -> str | Text:
    """Mentions of the first few ids (sorted, so the message is stable), then how many more."""
    shown = ", ".join(template.format(each) for each in sorted(ids)[:_LISTED_IDS])
    more = len(ids) - _LISTED_IDS
    return Text("{shown} and {more} more", shown=shown, more=more) if more > 0 else shown
