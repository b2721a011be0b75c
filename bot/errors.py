"""Every error the bot side raises on purpose about what a user typed, in one place.

    VideoBotError                   generation.errors; `str(err)` is safe to show to the user verbatim
    ├── BotInputError               the user's input cannot become a request; the message says how to fix it
    │   ├── PromptFlagError         a flag inside the prompt is unknown, repeated or has a bad value
    │   ├── OptionConflictError     a slash option and an in-prompt flag set one option to different values
    │   └── InvalidOptionError      an option is outside this server's limits or the engine's bounds
    └── RefusedError                a rule refused the request (channel, role, DMs, blocklist, cooldown)

`bot.moderation` returns refusals as `Refusal` records (pure rules); `bot.gatekeeper` raises them as
`RefusedError` so the central error handler sends them like every other expected error.
"""

from __future__ import annotations

from generation.errors import VideoBotError


class BotInputError(VideoBotError):
    """Base class of input mistakes; the message is written for the user who made them."""


class PromptFlagError(BotInputError, ValueError):
    """A `-flag` inside the prompt could not be read."""


class OptionConflictError(BotInputError, ValueError):
    """The same option was given as a slash option and as an in-prompt flag, with different values."""

    def __init__(self, option: str, slash_value: str, flag_value: str) -> None:
        self.option = option
        super().__init__(
            f"{option} is set twice with different values: the {option} option says {slash_value} "
            f"but the prompt says {flag_value}; remove one of them"
        )


class InvalidOptionError(BotInputError, ValueError):
    """An option value is not allowed; `option` is the name the user sees, not the engine's field."""

    def __init__(self, option: str, value: str, allowed: str, *, note: str = "") -> None:
        self.option = option
        self.value = value
        self.allowed = allowed
        suffix = f" {note}" if note else ""
        super().__init__(f"{option} must be {allowed} (got {value}{suffix})")


class RefusedError(VideoBotError):
    """A request was refused by a rule; the message says which and what to do."""
