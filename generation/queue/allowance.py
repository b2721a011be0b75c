"""What one member may use: a daily quota, how many jobs they may hold, their weight in the fair order.

The bot decides a member's allowance from the server's rules (operator defaults, server and channel
rules, role perks) when they submit; the queue enforces it atomically with the submission, so two bot
processes cannot both let the last video of a quota through. The queue knows nothing of servers or
roles: `quota_key` names whose quota a job counts against (the bot uses one key per member and server).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from generation.errors import InvalidRequestError

DAY_S = 24 * 60 * 60
_MAX_WEIGHT = 10


@dataclass(frozen=True)
class QuotaWindow:
    """The span a quota counts over: the last 24 hours (`reset_hour` None), or the day that began at
    `reset_hour` o'clock UTC, measured on the queue's clock (Redis's, with workers on other hosts)."""

    reset_hour: int | None = None

    def __post_init__(self) -> None:
        if self.reset_hour is not None and not 0 <= self.reset_hour <= 23:
            raise InvalidRequestError("reset_hour", self.reset_hour, "an hour from 0 to 23")


@dataclass(frozen=True)
class Allowance:
    """One submission's limits; the defaults (no quota, the queue's own per-owner cap, weight 1) change
    nothing, so a job without an allowance behaves as before."""

    quota_key: str = ""
    daily_quota: int | None = None
    """Videos per window: waiting, running and delivered jobs count; failed and cancelled ones do not."""
    window: QuotaWindow = field(default_factory=QuotaWindow)
    max_held: int | None = None
    """The most jobs the owner may have waiting or running at once; None keeps the queue's cap."""
    weight: int = 1
    """Turns per round in the fair order (see `generation.queue.scheduler`)."""

    def __post_init__(self) -> None:
        if self.daily_quota is not None and self.daily_quota < 0:
            raise InvalidRequestError("daily_quota", self.daily_quota, "0 or more")
        if self.daily_quota is not None and not self.quota_key:
            raise InvalidRequestError("quota_key", self.quota_key, "set when there is a daily quota")
        if self.max_held is not None and self.max_held < 1:
            raise InvalidRequestError("max_held", self.max_held, "1 or more")
        if not 1 <= self.weight <= _MAX_WEIGHT:
            raise InvalidRequestError("weight", self.weight, f"a whole number from 1 to {_MAX_WEIGHT}")


@dataclass(frozen=True)
class QuotaUsage:
    """Where one quota stands: `used` of `limit` in the current window; `resets_at` (epoch seconds, queue
    clock) is when the next video becomes possible if none is left, else when the window next frees one
    (None when nothing counts yet)."""

    used: int
    limit: int | None
    resets_at: float | None

    @property
    def left(self) -> int | None:
        """Videos still possible in this window; None without a quota."""
        return None if self.limit is None else max(0, self.limit - self.used)
