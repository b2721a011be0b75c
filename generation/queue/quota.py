"""Daily quotas as the in-process queue keeps them, and an allowance as it is stored with its job.

The rule, the same in Redis (`redis/lua/prelude.lua`, "quotas"): a job counts against its allowance's
`quota_key` from its submission, by its submission time, while it waits, runs and once it succeeded;
a job that failed or was cancelled gives its count back, and a refused one never counted. A window
says which submissions still count at a moment `now`:

* rolling (`reset_hour` None): those of the last 24 hours, `submitted_at > now - DAY_S`, so the oldest
  counted job frees one at its submission plus 24 h;
* from `reset_hour` o'clock UTC: those since the latest such hour, all freed at the next one.

Every job with a `quota_key` is counted, with or without a `daily_quota`: a quota an admin sets in the
middle of a day already knows what that day used.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Iterable

from generation.errors import QuotaExceededError
from generation.queue.allowance import DAY_S, Allowance, QuotaUsage, QuotaWindow

_HOUR_S = 3600


def window_start(window: QuotaWindow, now: float) -> float:
    """The earliest submission time that still counts at `now` (rolling: exclusive; reset hour: inclusive)."""
    if window.reset_hour is None:
        return now - DAY_S
    offset = window.reset_hour * _HOUR_S
    return math.floor((now - offset) / DAY_S) * DAY_S + offset


def counts(window: QuotaWindow, submitted_at: float, now: float) -> bool:
    """True if a job submitted at `submitted_at` (and neither failed nor cancelled) counts at `now`."""
    start = window_start(window, now)
    return submitted_at > start if window.reset_hour is None else submitted_at >= start


def usage(allowance: Allowance, submitted: Iterable[float], now: float) -> QuotaUsage:
    """Where `allowance`'s quota stands at `now`, given the submission times of its key's counted jobs."""
    window = allowance.window
    counted = sorted(at for at in submitted if counts(window, at, now))
    limit = allowance.daily_quota
    day_end = window_start(window, now) + DAY_S if window.reset_hour is not None else now + DAY_S
    if not counted:
        # A quota of 0 is used up with nothing counted: as far as anyone can say, until the window's end.
        return QuotaUsage(0, limit, day_end if limit == 0 else None)
    if window.reset_hour is not None:
        return QuotaUsage(len(counted), limit, day_end)
    # The job whose 24 h ending makes one video possible again (the oldest while some are left); with a
    # quota lowered to 0, the newest: every video counted is free again then.
    freeing = 0 if limit is None else min(max(0, len(counted) - limit), len(counted) - 1)
    return QuotaUsage(len(counted), limit, counted[freeing] + DAY_S)


def refusal(used: QuotaUsage) -> QuotaExceededError | None:
    """The refusal of one more job, if `used` leaves none."""
    if used.limit is None or used.used < used.limit:
        return None
    assert used.resets_at is not None  # `usage` always says when a used-up quota frees one
    return QuotaExceededError(used.used, used.limit, used.resets_at)


class QuotaBook:
    """The counted jobs of every quota key over the last 24 hours (the longest window), in memory.

    Pure and synchronous: `QueueCore` checks and counts in one step on the event loop, so two
    submissions can never both take the last video of a quota.
    """

    def __init__(self) -> None:
        self._by_key: dict[str, dict[str, float]] = {}  # quota key -> counted job id -> submitted at
        self._keys: dict[str, str] = {}  # counted job id -> its quota key
        self._submitted: deque[tuple[float, str]] = deque()  # (submitted at, job id), oldest first

    def usage(self, allowance: Allowance, now: float) -> QuotaUsage:
        """Where `allowance`'s quota stands at `now`."""
        self._forget_before(now - DAY_S)
        counted = self._by_key.get(allowance.quota_key, {}) if allowance.quota_key else {}
        return usage(allowance, counted.values(), now)

    def check(self, allowance: Allowance, now: float) -> None:
        """Raise `QuotaExceededError` if `allowance`'s quota has no video left at `now`."""
        if allowance.daily_quota is None:
            return
        refused = refusal(self.usage(allowance, now))
        if refused is not None:
            raise refused

    def count(self, job_id: str, quota_key: str, submitted_at: float) -> None:
        """Count a job against `quota_key` (after `check`, or as read back at start-up), oldest first."""
        self._by_key.setdefault(quota_key, {})[job_id] = submitted_at
        self._keys[job_id] = quota_key
        self._submitted.append((submitted_at, job_id))

    def release(self, job_id: str) -> None:
        """The job failed or was cancelled: it no longer counts."""
        key = self._keys.pop(job_id, None)
        if key is None:
            return
        counted = self._by_key[key]
        del counted[job_id]
        if not counted:
            del self._by_key[key]

    def _forget_before(self, cutoff: float) -> None:
        """Drop the jobs no window counts any more (submitted at or before `cutoff`)."""
        while self._submitted and self._submitted[0][0] <= cutoff:
            _, job_id = self._submitted.popleft()
            self.release(job_id)


def allowance_text(allowance: Allowance) -> str | None:
    """The allowance as stored with its job (JSON); None for the default one, which limits nothing."""
    if allowance == Allowance():
        return None
    return json.dumps(
        {
            "quota_key": allowance.quota_key,
            "daily_quota": allowance.daily_quota,
            "reset_hour": allowance.window.reset_hour,
            "max_held": allowance.max_held,
            "weight": allowance.weight,
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def allowance_from_text(text: str | None) -> Allowance:
    """The allowance `allowance_text` wrote; raises `ValueError` (or `InvalidRequestError`, one) for text it
    could not have written."""
    if text is None or text == "":
        return Allowance()
    fields = json.loads(text)
    if not isinstance(fields, dict) or set(fields) != {"quota_key", "daily_quota", "reset_hour", "max_held", "weight"}:
        raise ValueError("an allowance is a JSON object of quota_key, daily_quota, reset_hour, max_held and weight")
    quota_key = fields["quota_key"]
    if not isinstance(quota_key, str):
        raise ValueError("an allowance's quota_key is text")
    return Allowance(
        quota_key=quota_key,
        daily_quota=_whole(fields, "daily_quota"),
        window=QuotaWindow(_whole(fields, "reset_hour")),
        max_held=_whole(fields, "max_held"),
        weight=_whole(fields, "weight") or 0,  # 0 is refused by `Allowance` as any weight out of range
    )


def _whole(fields: dict[str, object], name: str) -> int | None:
    value = fields[name]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"an allowance's {name} is a whole number or null")
    return value
