"""The per-user cooldown, driven by an explicit clock."""

from __future__ import annotations

import pytest

from bot.moderation.rules import Cooldown


def test_a_user_never_recorded_may_go_ahead() -> None:
    assert Cooldown(30).check(1, now=100.0) is None


def test_a_recorded_user_waits_the_rest_of_the_cooldown() -> None:
    cooldown = Cooldown(30)
    cooldown.record(1, now=100.0)
    assert cooldown.check(1, now=110.0) == pytest.approx(20.0)


@pytest.mark.parametrize(("elapsed", "remaining"), [(0.0, 30.0), (29.5, 0.5), (30.0, None), (31.0, None)])
def test_the_cooldown_ends_exactly_after_its_seconds(elapsed: float, remaining: float | None) -> None:
    cooldown = Cooldown(30)
    cooldown.record(1, now=100.0)
    assert cooldown.check(1, now=100.0 + elapsed) == (pytest.approx(remaining) if remaining else None)


def test_users_have_separate_cooldowns() -> None:
    cooldown = Cooldown(30)
    cooldown.record(1, now=100.0)
    assert cooldown.check(2, now=101.0) is None


def test_recording_again_restarts_the_cooldown() -> None:
    cooldown = Cooldown(30)
    cooldown.record(1, now=100.0)
    cooldown.record(1, now=140.0)
    assert cooldown.check(1, now=150.0) == pytest.approx(20.0)


def test_a_zero_cooldown_never_makes_anyone_wait() -> None:
    cooldown = Cooldown(0)
    cooldown.record(1, now=100.0)
    assert cooldown.check(1, now=100.0) is None


def test_expired_users_are_forgotten_when_another_is_recorded() -> None:
    cooldown = Cooldown(30)
    cooldown.record(1, now=100.0)
    cooldown.record(2, now=120.0)
    cooldown.record(3, now=140.0)
    assert len(cooldown) == 2


def test_a_negative_cooldown_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        Cooldown(-1)


def test_forgetting_a_withdrawn_record_lets_the_user_go_again() -> None:
    cooldown = Cooldown(60)
    cooldown.record(1, now=100.0)

    cooldown.forget(1, recorded_at=100.0)

    assert cooldown.check(1, now=101.0) is None


def test_forgetting_an_older_record_keeps_the_newer_one() -> None:
    cooldown = Cooldown(60)
    cooldown.record(1, now=100.0)
    cooldown.record(1, now=170.0)

    cooldown.forget(1, recorded_at=100.0)

    assert cooldown.check(1, now=171.0) == 59.0
