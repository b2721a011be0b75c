"""What one member may use: their daily quota, the jobs they may hold, their weight in the fair order.

The operator's `.env` gives the defaults (`DAILY_QUOTA`, `QUOTA_RESET_HOUR`; the queue's own per-member
cap and weight 1 otherwise). Each submission carries the member's limits to the queue as an `Allowance`,
which the queue enforces atomically with the submission, in every bot process alike.

A quota counts per member and server: the same member has a quota of their own in each server, and
one more in direct messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings
from generation.queue.allowance import Allowance, QuotaWindow


@dataclass(frozen=True)
class MemberLimits:
    """A member's effective limits: `daily_quota` videos per window (None: no limit), the window starting at
    `quota_reset_hour` UTC (None: the last 24 hours), `max_held` jobs waiting or running at once (None: no
    cap of the member's own, the queue's applies) and `weight`, their turns per round in the fair order."""

    daily_quota: int | None
    quota_reset_hour: int | None
    max_held: int | None
    weight: int


def operator_limits(settings: Settings) -> MemberLimits:
    """The limits the operator's settings give every member (DAILY_QUOTA 0: none; jobs held: the queue's
    cap, QUEUE_MAX_PER_USER, spelt out so that a role perk can raise it)."""
    return MemberLimits(
        daily_quota=settings.daily_quota or None,
        quota_reset_hour=settings.quota_reset_hour,
        max_held=settings.queue_max_per_user,
        weight=1,
    )


def quota_key(guild_id: int | None, user_id: int) -> str:
    """Whose quota a job counts against: the member in that server, or the user alone in DMs."""
    return str(user_id) if guild_id is None else f"{guild_id}:{user_id}"


def allowance_for(limits: MemberLimits, guild_id: int | None, user_id: int) -> Allowance:
    """The allowance a submission of `user_id`'s in `guild_id` (None: a DM) carries to the queue."""
    return Allowance(
        quota_key=quota_key(guild_id, user_id),
        daily_quota=limits.daily_quota,
        window=QuotaWindow(limits.quota_reset_hour),
        max_held=limits.max_held,
        weight=limits.weight,
    )
