"""The request and reply types route handlers work with, and Discord's error replies."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .multipart import Upload


@dataclass(frozen=True)
class Call:
    """One REST request as a handler sees it."""

    method: str
    path: str
    route: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    uploads: tuple[Upload, ...] = ()
    # On the emulator's clock, when the request reached the emulator: before its own parsing and
    # validation, so what a rule measures against it (the 3-second response) is the bot's time only.
    received_at: float = 0.0

    def flag(self, name: str) -> bool:
        """A boolean query parameter (`?wait=true`, `?with_response=1`)."""
        return self.query.get(name, "").lower() in {"1", "true"}


@dataclass(frozen=True)
class Reply:
    """What a handler answers; `after_sent` runs once the bot has the whole response."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    after_sent: Callable[[], Awaitable[None]] | None = None


class ErrorCode(enum.IntEnum):
    """The JSON error codes the emulator answers with, as Discord numbers them."""

    GENERAL = 0
    UNKNOWN_CHANNEL = 10003
    UNKNOWN_GUILD = 10004
    UNKNOWN_MESSAGE = 10008
    UNKNOWN_WEBHOOK = 10015
    UNKNOWN_APPLICATION = 10002
    UNKNOWN_INTERACTION = 10062
    CANNOT_EDIT_OTHERS_MESSAGE = 50005
    CANNOT_SEND_EMPTY_MESSAGE = 50006
    MISSING_PERMISSIONS = 50013
    INVALID_WEBHOOK_TOKEN = 50027
    INVALID_FORM_BODY = 50035
    INVALID_JSON = 50109
    REQUEST_ENTITY_TOO_LARGE = 40005
    ALREADY_ACKNOWLEDGED = 40060


class DiscordError(Exception):
    """Raised by a handler to answer with Discord's error body."""

    def __init__(self, status: int, code: ErrorCode, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code.name}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def reply(self) -> Reply:
        """The error as Discord sends it."""
        body: dict[str, Any] = {"message": self.message, "code": int(self.code)}
        if self.errors is not None:
            body["errors"] = self.errors
        return Reply(self.status, body)


def unknown(code: ErrorCode, what: str) -> DiscordError:
    """A 404 for a missing object (`Unknown Message`, `Unknown Channel`, ...)."""
    return DiscordError(404, code, f"Unknown {what}")
