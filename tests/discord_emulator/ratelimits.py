"""Discord's REST rate limits, counted as Discord counts them and answered by the emulator itself.

Discord limits a bot per route and globally, and says on every response where the bot stands;
discord.py reads that and waits before it is refused, and a client that sends anyway gets a 429. The
emulator does the same, so a bot that bursts (status edits, follow-ups, channel posts) is slowed where
Discord would slow it, and a client that ignores the headers is refused.

Per-route buckets are counted per major parameter, as Discord does: the channel, else the guild, else
the webhook id and token (an interaction counts as its own webhook, for its callback too). Discord
publishes no figures and says to read the headers; these are the ones it has been seen to give bots:

    POST   /channels/{channel_id}/messages                 5 per 5 s    per channel
    PATCH  /channels/{channel_id}/messages/{message_id}    5 per 5 s    per channel
    DELETE /channels/{channel_id}/messages/{message_id}    5 per 1 s    per channel
    POST   /channels/{channel_id}/typing                   5 per 5 s    per channel
    PUT    the global or a guild's commands                5 per 20 s   per guild (global: one)
    the interaction webhook: POST a follow-up, PATCH or    5 per 5 s    per interaction token, one
        DELETE @original or a follow-up                                 bucket for all five routes
    any other route                                        50 per 1 s   its own bucket

The global limit is 50 requests per second over everything sent with the bot token. Interaction
routes (the callback and the interaction webhook, which the interaction's token authenticates) are not
bound by it, as Discord documents.

Windows are fixed: a window opens at its bucket's first request, admits `limit` requests and refuses
the rest until `per` seconds after it opened. A refused request uses up nothing in its bucket, but it
counts towards the global limit like every request that reaches Discord. Windows run on the
emulator's pacing clock (`pacing.py`): real time unless a test passes its own.

Each reply to a rate-limited request carries `X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds
on the emulator's clock), `-Reset-After` and `-Bucket` (a hash naming the bucket, not the major
parameter). A 429 adds `Retry-After` (whole seconds, rounded up), `X-RateLimit-Scope` (`user` for a
bucket; `global` for the global limit, which sends `X-RateLimit-Global: true` and no bucket headers),
and Discord's body `{"message", "code", "retry_after", "global"}` (`code` 0: the spec requires one). No
emulated limit is a `shared` one (a resource's limit over all its users).
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from .models import EmulatorClock
from .pacing import Pacing
from .protocol import Reply

_MESSAGES = "/channels/{channel_id}/messages"
_MESSAGE = _MESSAGES + "/{message_id}"
_WEBHOOK = "/webhooks/{webhook_id}/{webhook_token}"
# Discord's top-level resources, in the order it picks one for a route.
_MAJOR_PARAMETERS = (
    ("channel_id",),
    ("guild_id",),
    ("webhook_id", "webhook_token"),
    ("interaction_id", "interaction_token"),
)


class Scope(enum.StrEnum):
    """Whose limit a 429 is about (`X-RateLimit-Scope`)."""

    USER = "user"
    GLOBAL = "global"


@dataclass(frozen=True)
class Bucket:
    """A rate limit one or more routes share: `limit` requests per `per` seconds."""

    name: str
    limit: int
    per: float

    @cached_property
    def hash(self) -> str:
        """The opaque `X-RateLimit-Bucket` value."""
        return hashlib.md5(self.name.encode(), usedforsecurity=False).hexdigest()


GLOBAL = Bucket("global", 50, 1.0)
_INTERACTION_WEBHOOK = Bucket("interaction webhook", 5, 5.0)
_COMMANDS = Bucket("overwrite commands", 5, 20.0)
BUCKETS: dict[tuple[str, str], Bucket] = {
    ("POST", _MESSAGES): Bucket("create message", 5, 5.0),
    ("PATCH", _MESSAGE): Bucket("edit message", 5, 5.0),
    ("DELETE", _MESSAGE): Bucket("delete message", 5, 1.0),
    ("POST", "/channels/{channel_id}/typing"): Bucket("typing", 5, 5.0),
    ("PUT", "/applications/{application_id}/commands"): _COMMANDS,
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"): _COMMANDS,
    ("POST", _WEBHOOK): _INTERACTION_WEBHOOK,
    ("PATCH", _WEBHOOK + "/messages/@original"): _INTERACTION_WEBHOOK,
    ("DELETE", _WEBHOOK + "/messages/@original"): _INTERACTION_WEBHOOK,
    ("PATCH", _WEBHOOK + "/messages/{message_id}"): _INTERACTION_WEBHOOK,
    ("DELETE", _WEBHOOK + "/messages/{message_id}"): _INTERACTION_WEBHOOK,
}
_OTHER_LIMIT = 50
_OTHER_PER = 1.0


@dataclass
class _Window:
    """One bucket's count for one major parameter since `opened_at` (pacing seconds)."""

    opened_at: float
    used: int = 0


@dataclass(frozen=True)
class Admission:
    """The verdict on one request: the headers its reply carries, or the 429 that replaces it."""

    headers: dict[str, str]
    refusal: Reply | None = None


class RateLimits:
    """The buckets and the global limit of the emulated bot."""

    def __init__(self, pacing: Pacing, clock: EmulatorClock) -> None:
        self._pacing = pacing
        self._clock = clock
        self._windows: dict[tuple[Bucket, str], _Window] = {}
        self._other: dict[tuple[str, str], Bucket] = {}

    def admit(self, method: str, route: str, params: Mapping[str, str], *, bound_by_global: bool) -> Admission:
        """Count a request to `route` (a spec path template) with its path `params`."""
        now = self._pacing.now()
        if bound_by_global:
            window = self._window(GLOBAL, "", now)
            window.used += 1
            if window.used > GLOBAL.limit:
                return Admission({}, too_many_requests(self._reset_after(GLOBAL, window, now), Scope.GLOBAL))
        bucket = BUCKETS.get((method, route)) or self._other_bucket(method, route)
        window = self._window(bucket, _major_parameter(params), now)
        if window.used >= bucket.limit:
            headers = self._headers(bucket, window, now)
            return Admission(headers, too_many_requests(self._reset_after(bucket, window, now), Scope.USER, headers))
        window.used += 1
        return Admission(self._headers(bucket, window, now))

    def _window(self, bucket: Bucket, major: str, now: float) -> _Window:
        window = self._windows.get((bucket, major))
        if window is None or now >= window.opened_at + bucket.per:
            window = self._windows[bucket, major] = _Window(opened_at=now)
        return window

    def _other_bucket(self, method: str, route: str) -> Bucket:
        bucket = self._other.get((method, route))
        if bucket is None:
            bucket = self._other[method, route] = Bucket(f"{method} {route}", _OTHER_LIMIT, _OTHER_PER)
        return bucket

    @staticmethod
    def _reset_after(bucket: Bucket, window: _Window, now: float) -> float:
        return _whole_milliseconds(window.opened_at + bucket.per - now)

    def _headers(self, bucket: Bucket, window: _Window, now: float) -> dict[str, str]:
        reset_after = self._reset_after(bucket, window, now)
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(bucket.limit - window.used),
            "X-RateLimit-Reset": f"{_whole_milliseconds(self._clock.utcnow().timestamp() + reset_after):.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket.hash,
        }


def too_many_requests(retry_after: float, scope: Scope, headers: Mapping[str, str] | None = None) -> Reply:
    """Discord's 429: wait `retry_after` seconds; `headers` are the bucket's, for a per-route limit."""
    sent = {
        **(headers or {}),
        # discord.py takes a 429 without `Via` for a Cloudflare ban and gives up.
        "Via": "1.1 google",
        "Retry-After": str(math.ceil(retry_after)),
        "X-RateLimit-Scope": scope.value,
    }
    if scope is Scope.GLOBAL:
        sent["X-RateLimit-Global"] = "true"
    body = {
        "message": "You are being rate limited.",
        "code": 0,
        "retry_after": retry_after,
        "global": scope is Scope.GLOBAL,
    }
    return Reply(429, body, sent)


def _major_parameter(params: Mapping[str, str]) -> str:
    for names in _MAJOR_PARAMETERS:
        if all(name in params for name in names):
            return "/".join(params[name] for name in names)
    return ""


def _whole_milliseconds(seconds: float) -> float:
    # Rounded up: a client that waits exactly this long must find the window over, not a hair short.
    return math.ceil(seconds * 1000) / 1000
