"""Every error the bot side raises on purpose, in one place.

    BotError                        base class; `str(err)` is safe to show to the user verbatim
    ├── BotInputError               the user's input cannot become a request; the message says how to fix it
    │   ├── PromptFlagError         a flag inside the prompt is unknown, repeated or has a bad value
    │   ├── OptionConflictError     a slash option and an in-prompt flag set one option to different values
    │   ├── InvalidOptionError      an option is outside this server's limits or the engine's bounds
    │   ├── ImageUnavailableError   an attached picture could not be downloaded (its link expired, it was deleted)
    │   └── NotExtendableError      Extend on a video whose file is gone, or with no model here that animates pictures
    ├── RefusedError                a rule refused the request (channel, role, DMs, blocklist, cooldown)
    │   ├── MissingPermissionsError the bot lacks a channel permission it needs to deliver
    │   └── NotAdminError           /videoadmin by a member who is not an admin (in bot.cogs.admin: it is
    │                               also a discord.py CheckFailure, and this module imports no discord)
    └── NotAcknowledgedError        Discord could not be told a job was queued, so it was taken back

The engine's own errors (`generation.errors.EngineError`: a full queue, a bad request) are expected too;
the central error handler (`bot.discord_io.error_handler`) sends both trees to the user verbatim. A bot
error keeps its message as a `Text` (`said`: the English with `{placeholders}`, and their values), so the
handler says it in the member's language; `str(err)` is the English. Anything a subclass is given to
fill in may be a `Text` itself (an allowed range, a reason), said in the same language.
`bot.moderation.rules` returns refusals as `Refusal` records (pure rules); `bot.moderation.gatekeeper` raises them as
`RefusedError`.
"""

from __future__ import annotations

from bot.i18n import Text


class BotError(Exception):
    """Base class of the bot's errors; the message is written for the user.

    `said` is the message to say in the member's language: a `Text`, or an English text and the values
    of its `{placeholders}`.
    """

    def __init__(self, text: str | Text = "", /, **params: object) -> None:
        self.said = text if isinstance(text, Text) and not params else Text(str(text), **params)
        super().__init__(str(self.said))


class BotInputError(BotError):
    """Base class of input mistakes; the message is written for the user who made them."""


class PromptFlagError(BotInputError, ValueError):
    """A `-flag` inside the prompt could not be read."""


class OptionConflictError(BotInputError, ValueError):
    """The same option was given as a slash option and as an in-prompt flag, with different values."""

    def __init__(self, option: str, slash_value: str, flag_value: str) -> None:
        self.option = option
        super().__init__(
            Text(
                "{option} is set twice with different values: the {option} option says {slash_value} "
                "but the prompt says {flag_value}; remove one of them",
                option=option,
                slash_value=slash_value,
                flag_value=flag_value,
            )
        )


class InvalidOptionError(BotInputError, ValueError):
    """An option value is not allowed; `option` is the name the user sees, not the engine's field."""

    def __init__(self, option: str, value: str | Text, allowed: str | Text, *, note: str | Text = "") -> None:
        self.option = option
        self.value = value
        self.allowed = allowed
        if note:
            said = Text(
                "{option} must be {allowed} (got {value} {note})",
                option=option,
                allowed=allowed,
                value=value,
                note=note,
            )
        else:
            said = Text("{option} must be {allowed} (got {value})", option=option, allowed=allowed, value=value)
        super().__init__(said)


class ImageUnavailableError(BotInputError):
    """The picture attached to `/video` could not be fetched from Discord."""

    def __init__(self, filename: str, reason: str | Text) -> None:
        super().__init__(
            Text(
                "I couldn't download your image {filename}: {reason}. Attach it again to a new /video and I'll retry.",
                filename=filename,
                reason=reason,
            )
        )


class NotExtendableError(BotInputError):
    """A finished video cannot be extended; `reason` says why, for the member who clicked Extend."""

    def __init__(self, reason: str | Text) -> None:
        self.reason = reason
        super().__init__(Text("This video can't be extended: {reason}.", reason=reason))


class RefusedError(BotError):
    """A request was refused by a rule; the message says which and what to do."""


class MissingPermissionsError(RefusedError):
    """The bot lacks a channel permission it needs to deliver (checked before queuing)."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        names = ", ".join(name.replace("_", " ").title() for name in missing)
        super().__init__(
            Text(
                "I can't post videos here: I'm missing the {names} permission in this channel. "
                "Ask a server admin to grant it, or use another channel.",
                names=names,
            )
        )


class NotAcknowledgedError(BotError):
    """Discord could not be told the job was queued, so it was taken back (the user saw nothing of it)."""

    def __init__(self) -> None:
        super().__init__(
            Text("I couldn't reach Discord to confirm your video, so I didn't queue it. Please try again.")
        )
