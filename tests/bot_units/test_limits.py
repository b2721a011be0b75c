"""A member's limits from the operator's settings, and the allowance a submission carries to the queue."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.moderation.limits import MemberLimits, allowance_for, operator_limits
from bot.settings import Settings
from generation.queue.allowance import Allowance, QuotaWindow


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, discord_token="x", **values)  # type: ignore[arg-type]


def test_existing_deployments_get_no_quota_and_the_queues_own_cap() -> None:
    assert operator_limits(settings()) == MemberLimits(
        daily_quota=None, quota_reset_hour=None, max_held=settings().queue_max_per_user, weight=1
    )


def test_the_operators_quota_and_reset_hour_are_every_members() -> None:
    limits = operator_limits(settings(daily_quota="5", quota_reset_hour="6"))

    assert (limits.daily_quota, limits.quota_reset_hour) == (5, 6)


def test_an_empty_reset_hour_keeps_the_rolling_day() -> None:
    assert operator_limits(settings(daily_quota="5", quota_reset_hour="")).quota_reset_hour is None


@pytest.mark.parametrize("hour", ["24", "-1", "noon"])
def test_a_reset_hour_outside_the_day_is_refused_at_start(hour: str) -> None:
    with pytest.raises(ValidationError, match="quota_reset_hour"):
        settings(quota_reset_hour=hour)


def test_a_member_has_one_quota_per_server_and_one_in_direct_messages() -> None:
    limits = MemberLimits(daily_quota=3, quota_reset_hour=6, max_held=4, weight=2)

    in_server = allowance_for(limits, 111, 42)
    elsewhere = allowance_for(limits, 222, 42)
    in_dms = allowance_for(limits, None, 42)

    assert in_server == Allowance(quota_key="111:42", daily_quota=3, window=QuotaWindow(6), max_held=4, weight=2)
    assert {in_server.quota_key, elsewhere.quota_key, in_dms.quota_key} == {"111:42", "222:42", "42"}
