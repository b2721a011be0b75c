"""A server's caps narrow a request's limits, never below what the model can make."""

from __future__ import annotations

from bot.intake.options import RequestLimits, VideoSize
from bot.intake.rule_limits import narrowed
from bot.moderation.precedence import OperatorRules, effective_rules
from bot.moderation.server_rules import GuildRules, ScopeLimits
from generation.profiles import PROFILES

LIMITS = RequestLimits(
    max_steps=50,
    max_frames=32,
    sizes=(VideoSize("small", 128, 64), VideoSize("tiny", 64, 64), VideoSize("big", 256, 256)),
)
OPERATOR = OperatorRules(max_steps=50, max_frames=32)


def _under(limits: ScopeLimits, base: RequestLimits = LIMITS) -> RequestLimits:
    return narrowed(base, effective_rules(OPERATOR, GuildRules(server=limits)))


def test_without_caps_the_limits_are_the_models() -> None:
    assert _under(ScopeLimits(cooldown_s=5)) is LIMITS


def test_caps_lower_steps_and_frames_and_drop_sizes_with_more_pixels() -> None:
    limits = _under(ScopeLimits(max_steps=10, max_frames=8, max_size="128x64"))

    assert (limits.max_steps, limits.max_frames) == (10, 8)
    assert [size.name for size in limits.sizes] == ["small", "tiny"]


def test_a_size_cap_below_every_size_leaves_the_smallest() -> None:
    assert [size.name for size in _under(ScopeLimits(max_size="16x16")).sizes] == ["tiny"]


def test_a_frame_cap_below_the_models_rule_leaves_its_fewest_frames() -> None:
    wan = RequestLimits.of_profile(PROFILES["wan2.1-t2v-1.3b"])

    limits = _under(ScopeLimits(max_frames=2), wan)

    assert limits.frame_rule.maximum == wan.profile.frames.minimum
