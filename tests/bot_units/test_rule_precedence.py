"""The precedence of the rules: operator defaults and limits, server rules, channel rules, role perks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.moderation.precedence import (
    MemberLimits,
    OperatorRules,
    Source,
    Sourced,
    effective_rules,
    member_limits,
    member_rules,
)
from bot.moderation.rules import BlocklistMode
from bot.moderation.rules_audit import changes
from bot.moderation.server_rules import DailyQuota, GuildRules, RolePerk, ScopeLimits

OPERATOR = OperatorRules(
    allowed_channel_ids=frozenset({11}),
    allowed_role_ids=frozenset({21}),
    blocklist=("gore",),
    cooldown_s=10.0,
    max_steps=50,
    max_frames=32,
    member=MemberLimits(daily_quota=5, quota_reset_hour=None, max_held=3, weight=1),
)
CHANNEL, THREAD_PARENT, OTHER = 101, 102, 103


def test_a_server_without_rules_gets_the_operators_settings_everywhere() -> None:
    rules = effective_rules(OPERATOR, GuildRules(), CHANNEL)

    assert rules.allowed_channel_ids == Sourced(frozenset({11}), Source.OPERATOR)
    assert rules.blocklist == Sourced(("gore",), Source.OPERATOR)
    assert rules.cooldown_s == Sourced(10.0, Source.OPERATOR)
    assert rules.max_steps == Sourced(50, Source.OPERATOR)
    assert rules.cap(rules.max_steps) is None
    assert member_limits(rules, frozenset()) == OPERATOR.member


def test_server_lists_replace_the_operators_and_server_blocklist_entries_are_added() -> None:
    server = GuildRules(
        allowed_channel_ids=frozenset({CHANNEL}),
        allowed_role_ids=frozenset(),
        blocklist=("re:blood\\w*",),
        blocklist_mode=BlocklistMode.REFUSE_EVERYWHERE,
    )

    rules = effective_rules(OPERATOR, server, CHANNEL)

    assert rules.allowed_channel_ids == Sourced(frozenset({CHANNEL}), Source.SERVER)
    assert rules.allowed_role_ids == Sourced(frozenset(), Source.SERVER)
    assert rules.blocklist == Sourced(("gore", "re:blood\\w*"), Source.SERVER)
    assert rules.blocklist_mode == Sourced(BlocklistMode.REFUSE_EVERYWHERE, Source.SERVER)


def test_a_channel_rule_overrides_the_server_rule_in_that_channel_and_its_threads_only() -> None:
    server = GuildRules(server=ScopeLimits(cooldown_s=60, max_steps=20)).with_channel(
        THREAD_PARENT, ScopeLimits(cooldown_s=5, max_steps=40)
    )

    in_thread = effective_rules(OPERATOR, server, channel_id=999, parent_id=THREAD_PARENT)
    elsewhere = effective_rules(OPERATOR, server, OTHER)

    assert (in_thread.cooldown_s, in_thread.max_steps) == (Sourced(5, Source.CHANNEL), Sourced(40, Source.CHANNEL))
    assert (elsewhere.cooldown_s, elsewhere.max_steps) == (Sourced(60, Source.SERVER), Sourced(20, Source.SERVER))


def test_a_cap_above_the_operators_limit_leaves_the_operators_limit() -> None:
    server = GuildRules(server=ScopeLimits(max_steps=80, max_frames=16))

    rules = effective_rules(OPERATOR, server)

    assert rules.max_steps == Sourced(50, Source.OPERATOR)
    assert rules.max_frames == Sourced(16, Source.SERVER)
    assert rules.cap(rules.max_frames) == 16


def test_the_server_quota_replaces_the_operators_default() -> None:
    server = GuildRules(daily_quota=DailyQuota(videos=2, reset_hour=6))

    limits = member_limits(effective_rules(OPERATOR, server), frozenset())

    assert limits == MemberLimits(daily_quota=2, quota_reset_hour=6, max_held=3, weight=1)


def test_a_member_with_several_roles_gets_the_best_perk_of_each() -> None:
    server = (
        GuildRules(daily_quota=DailyQuota(videos=2))
        .with_perk(31, RolePerk(daily_quota=10, weight=2))
        .with_perk(32, RolePerk(daily_quota=4, max_held=6, weight=3))
        .with_perk(33, RolePerk(weight=9))  # a role the member does not have
    )
    rules = member_rules(effective_rules(OPERATOR, server), frozenset({31, 32}))

    assert rules.daily_quota == Sourced(10, Source.ROLE, 31)
    assert rules.max_held == Sourced(6, Source.ROLE, 32)
    assert rules.weight == Sourced(3, Source.ROLE, 32)


def test_a_perk_never_lowers_a_value_and_no_limit_beats_any_number() -> None:
    server = GuildRules(daily_quota=DailyQuota(videos=None)).with_perk(31, RolePerk(daily_quota=1, max_held=1))

    limits = member_limits(effective_rules(OPERATOR, server), frozenset({31}))

    assert (limits.daily_quota, limits.max_held) == (None, 3)


def test_a_bad_regex_or_an_out_of_range_value_is_refused_by_the_rules_themselves() -> None:
    with pytest.raises(ValueError, match="not a valid regular expression"):
        GuildRules().updated(blocklist=("re:(",))
    with pytest.raises(ValidationError):
        RolePerk(weight=11)


def test_a_damaged_document_does_not_parse() -> None:
    with pytest.raises(ValidationError, match="cooldown_s"):
        GuildRules.from_json('{"server": {"cooldown_s": "soon"}}')


def test_each_change_is_an_audit_entry_with_old_and_new() -> None:
    old = GuildRules(server=ScopeLimits(cooldown_s=30))
    new = old.updated(server=ScopeLimits(cooldown_s=5), daily_quota=DailyQuota(videos=3))

    entries = changes(old, new, user_id=7, at=1000.0)

    assert [(e.what, e.old, e.new) for e in entries] == [
        ("server cooldown", "30 s", "5 s"),
        ("daily quota", "not set", "3 videos per rolling 24 h"),
    ]
