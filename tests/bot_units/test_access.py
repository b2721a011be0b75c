"""Where the bot works, for whom, who is an admin, and where blocklisted prompts are refused."""

from __future__ import annotations

import dataclasses

import pytest

from bot.moderation.rules import (
    AccessContext,
    AccessPolicy,
    BlocklistMode,
    BlockMatch,
    RefusalReason,
    check_access,
    cooldown_refusal,
    is_admin,
)

GUILD, ART, MEMES, THREAD = 1, 10, 11, 12
ARTIST, MOD = 100, 200
IN_ART = AccessContext(guild_id=GUILD, channel_id=ART, role_ids=frozenset({ARTIST}))
IN_DM = AccessContext(guild_id=None, channel_id=5)
OPEN = AccessPolicy()
BLOCKED = BlockMatch("sex", "prompt", "sex")


def _reason(ctx: AccessContext, policy: AccessPolicy, blocked: BlockMatch | None = None) -> RefusalReason | None:
    refusal = check_access(ctx, policy, blocked=blocked)
    return refusal.reason if refusal else None


def test_an_open_policy_allows_a_server_channel() -> None:
    assert check_access(IN_ART, OPEN) is None


def test_dms_are_refused_unless_allowed() -> None:
    refusal = check_access(IN_DM, OPEN)
    assert refusal is not None
    assert refusal.reason is RefusalReason.DMS_DISABLED
    assert "direct messages" in refusal.message


def test_dms_may_be_allowed() -> None:
    assert check_access(IN_DM, AccessPolicy(allow_dms=True)) is None


def test_dms_ignore_channel_and_role_rules() -> None:
    policy = AccessPolicy(allow_dms=True, allowed_channel_ids=frozenset({ART}), allowed_role_ids=frozenset({MOD}))
    assert check_access(IN_DM, policy) is None


@pytest.mark.parametrize(
    ("channel", "parent", "allowed"),
    [(ART, None, True), (MEMES, None, False), (THREAD, ART, True), (THREAD, MEMES, False)],
    ids=["listed", "not-listed", "thread-in-listed", "thread-in-not-listed"],
)
def test_only_listed_channels_and_their_threads_are_allowed(channel: int, parent: int | None, allowed: bool) -> None:
    ctx = dataclasses.replace(IN_ART, channel_id=channel, parent_channel_id=parent)
    expected = None if allowed else RefusalReason.CHANNEL_NOT_ALLOWED
    assert _reason(ctx, AccessPolicy(allowed_channel_ids=frozenset({ART}))) is expected


def test_a_channel_refusal_names_the_allowed_channels() -> None:
    ctx = dataclasses.replace(IN_ART, channel_id=MEMES)
    refusal = check_access(ctx, AccessPolicy(allowed_channel_ids=frozenset({ART, 3})))
    assert refusal is not None
    assert refusal.message == "I can't make videos in this channel. Try <#3>, <#10>."


def test_a_long_channel_list_is_shortened() -> None:
    policy = AccessPolicy(allowed_channel_ids=frozenset(range(1000, 1015)))
    refusal = check_access(IN_ART, policy)
    assert refusal is not None
    assert refusal.message.endswith("<#1009> and 5 more.")


def test_the_channel_rule_binds_admins_too() -> None:
    ctx = dataclasses.replace(IN_ART, channel_id=MEMES, can_manage_guild=True)
    assert _reason(ctx, AccessPolicy(allowed_channel_ids=frozenset({ART}))) is RefusalReason.CHANNEL_NOT_ALLOWED


def test_users_without_an_allowed_role_are_refused_with_the_roles_named() -> None:
    refusal = check_access(IN_ART, AccessPolicy(allowed_role_ids=frozenset({MOD, 300})))
    assert refusal is not None
    assert refusal.reason is RefusalReason.MISSING_ROLE
    assert refusal.message == "You need one of these roles to make videos here: <@&200>, <@&300>."


def test_one_allowed_role_is_enough() -> None:
    assert check_access(IN_ART, AccessPolicy(allowed_role_ids=frozenset({ARTIST, MOD}))) is None


@pytest.mark.parametrize(
    "ctx",
    [
        dataclasses.replace(IN_ART, can_manage_guild=True),
        dataclasses.replace(IN_ART, role_ids=frozenset({MOD})),
    ],
    ids=["manage-server", "admin-role"],
)
def test_admins_need_no_allowed_role(ctx: AccessContext) -> None:
    policy = AccessPolicy(allowed_role_ids=frozenset({300}), admin_role_ids=frozenset({MOD}))
    assert check_access(ctx, policy) is None


@pytest.mark.parametrize(
    ("ctx", "admin"),
    [
        (IN_ART, False),
        (dataclasses.replace(IN_ART, can_manage_guild=True), True),
        (dataclasses.replace(IN_ART, role_ids=frozenset({ARTIST, MOD})), True),
        (dataclasses.replace(IN_DM, role_ids=frozenset({MOD}), can_manage_guild=True), False),
    ],
    ids=["member", "manage-server", "admin-role", "dm"],
)
def test_admins_have_manage_server_or_an_admin_role(ctx: AccessContext, admin: bool) -> None:
    assert is_admin(ctx, AccessPolicy(admin_role_ids=frozenset({MOD}))) is admin


@pytest.mark.parametrize(
    ("mode", "nsfw", "refused"),
    [
        (BlocklistMode.REFUSE_OUTSIDE_NSFW, False, True),
        (BlocklistMode.REFUSE_OUTSIDE_NSFW, True, False),
        (BlocklistMode.REFUSE_EVERYWHERE, False, True),
        (BlocklistMode.REFUSE_EVERYWHERE, True, True),
    ],
)
def test_blocklisted_prompts_are_refused_by_mode_and_age_restriction(
    mode: BlocklistMode, nsfw: bool, refused: bool
) -> None:
    ctx = dataclasses.replace(IN_ART, channel_is_nsfw=nsfw)
    expected = RefusalReason.BLOCKED_PROMPT if refused else None
    assert _reason(ctx, AccessPolicy(blocklist_mode=mode), BLOCKED) is expected


def test_the_default_mode_allows_blocklisted_prompts_in_age_restricted_channels_only() -> None:
    assert AccessPolicy().blocklist_mode is BlocklistMode.REFUSE_OUTSIDE_NSFW


def test_blocklisted_prompts_are_refused_in_dms_which_are_never_age_restricted() -> None:
    assert _reason(IN_DM, AccessPolicy(allow_dms=True), BLOCKED) is RefusalReason.BLOCKED_PROMPT


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (
            BlocklistMode.REFUSE_OUTSIDE_NSFW,
            "Your negative prompt contains “nude”, which is only allowed in age-restricted channels. "
            "Rephrase it and try again.",
        ),
        (
            BlocklistMode.REFUSE_EVERYWHERE,
            "Your negative prompt contains “nude”, which is not allowed on this server. Rephrase it and try again.",
        ),
    ],
)
def test_a_blocklist_refusal_names_the_field_and_the_term(mode: BlocklistMode, message: str) -> None:
    refusal = check_access(
        IN_ART, AccessPolicy(blocklist_mode=mode), blocked=BlockMatch("nud", "negative prompt", "nude")
    )
    assert refusal is not None
    assert refusal.message == message


def test_the_blocked_term_is_echoed_without_mentions_or_markdown() -> None:
    refusal = check_access(IN_ART, OPEN, blocked=BlockMatch("re:@", "prompt", "@everyone**"))
    assert refusal is not None
    assert "“@\u200beveryone\\*\\*”" in refusal.message


def test_where_and_who_are_checked_before_what() -> None:
    ctx = dataclasses.replace(IN_ART, channel_id=MEMES)
    assert (
        _reason(ctx, AccessPolicy(allowed_channel_ids=frozenset({ART})), BLOCKED) is RefusalReason.CHANNEL_NOT_ALLOWED
    )


@pytest.mark.parametrize(
    ("remaining", "message"),
    [
        (12.2, "Slow down: you can make another video in 13 seconds."),
        (0.3, "Slow down: you can make another video in 1 second."),
    ],
)
def test_a_cooldown_refusal_rounds_the_wait_up(remaining: float, message: str) -> None:
    refusal = cooldown_refusal(remaining)
    assert (refusal.reason, refusal.message) == (RefusalReason.COOLDOWN, message)
