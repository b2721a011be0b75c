"""Server rules shared in Redis: every bot process sees each other's changes at its next /video, and what
Redis hands back is checked, so a damaged record is logged and read as no rule."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import RefusedError
from bot.moderation.rules_audit import BY_THE_BOT
from bot.moderation.rules_redis import RedisRulesStore
from bot.moderation.server_rules import DailyQuota, GuildRules, ScopeLimits
from generation.queue.redis.verbs import DEFAULT_PREFIX, connect
from tests.fixtures.bot import StartBot, ephemeral_reply, finished
from tests.fixtures.redis_server import RedisServer
from tests.queue.test_redis_acl import ROOT, compose_url

GUILD = 4242


@pytest.fixture
async def two_processes(
    redis_server: RedisServer, redis_prefix: str
) -> AsyncIterator[tuple[RedisRulesStore, RedisRulesStore]]:
    """The rules stores of two bot processes on one Redis."""
    one = RedisRulesStore(connect(redis_server.url), redis_prefix)
    other = RedisRulesStore(connect(redis_server.url), redis_prefix)
    yield one, other
    await one.close()
    await other.close()


async def test_a_change_made_by_one_process_is_read_by_the_other_at_its_next_look(
    two_processes: tuple[RedisRulesStore, RedisRulesStore],
) -> None:
    one, other = two_processes
    assert await other.rules(GUILD) == GuildRules()  # read (and cached) before the change

    await one.change(GUILD, 7, 1000.0, lambda rules: rules.updated(server=ScopeLimits(cooldown_s=30)))
    seen = await other.rules(GUILD)
    await other.change(GUILD, 8, 1001.0, lambda rules: rules.updated(daily_quota=DailyQuota(videos=4)))

    assert seen.server.cooldown_s == 30
    assert (await one.rules(GUILD)).daily_quota == DailyQuota(videos=4)
    assert [(entry.user_id, entry.what) for entry in await one.audit(GUILD, 10)] == [
        (8, "daily quota"),
        (7, "server cooldown"),
    ]


async def test_the_audit_trail_is_never_trimmed(two_processes: tuple[RedisRulesStore, RedisRulesStore]) -> None:
    one, _ = two_processes
    for seconds in range(1, 61):
        await one.change(
            GUILD, 7, float(seconds), lambda rules, s=seconds: rules.updated(server=ScopeLimits(cooldown_s=s))
        )

    assert len(await one.audit(GUILD, 1000)) == 60


async def test_a_damaged_document_is_logged_and_read_as_no_rule(
    two_processes: tuple[RedisRulesStore, RedisRulesStore],
    redis_server: RedisServer,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    one, _ = two_processes
    await one.change(GUILD, 7, 1000.0, lambda rules: rules.updated(server=ScopeLimits(cooldown_s=30)))
    raw = connect(redis_server.url)
    await raw.hset(f"{redis_prefix}rules:{GUILD}", mapping={"doc": '{"server": {"cooldown_s": -5}}', "version": "99"})
    await raw.xadd(f"{redis_prefix}rules:audit:{GUILD}", {"at": "yesterday", "user": "7"})
    await raw.aclose()

    with caplog.at_level(logging.ERROR):
        rules = await one.rules(GUILD)
        trail = await one.audit(GUILD, 10)

    assert rules == GuildRules()
    assert [entry.what for entry in trail] == ["server cooldown"]
    assert f"damaged rules of guild_id={GUILD}" in caplog.text
    assert "damaged audit record" in caplog.text


@pytest.mark.redis_only
async def test_a_rule_set_by_another_bot_process_applies_to_the_next_video_without_a_restart(
    start_bot: StartBot, two_processes: tuple[RedisRulesStore, RedisRulesStore]
) -> None:
    _, other_process = two_processes
    running = await start_bot()
    before = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat -steps 20"})
    await finished(running.emulator, before)

    await other_process.change(
        running.guild.id, 7, 1000.0, lambda rules: rules.updated(server=ScopeLimits(max_steps=10))
    )
    after = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat -steps 20"})

    assert "between 1 and 10 on this server" in await ephemeral_reply(after)


async def test_the_bots_redis_user_in_the_shipped_acl_may_keep_the_rules(tmp_path: Path) -> None:
    acl = tmp_path / "users.acl"
    shutil.copy(ROOT / "users.acl", acl)
    server = RedisServer.start(tmp_path / "redis", options=["--aclfile", str(acl)])
    store = RedisRulesStore(connect(compose_url(server, worker=False)), DEFAULT_PREFIX)
    try:
        await store.change(GUILD, 7, 1000.0, lambda rules: rules.updated(server=ScopeLimits(cooldown_s=30)))
        rules, trail = await store.rules(GUILD), await store.audit(GUILD, 10)
    finally:
        await store.close()
        server.stop()

    assert rules.server.cooldown_s == 30
    assert [entry.what for entry in trail] == ["server cooldown"]


async def forget_all_rules(redis_server: RedisServer, prefix: str) -> None:
    """What Redis restarted without its data leaves of the rules: nothing (the queue's keys are kept here,
    so only the rules' side of such a loss is under test)."""
    raw = connect(redis_server.url)
    keys = [key async for key in raw.scan_iter(match=f"{prefix}rules:*")]
    assert keys, "no rules in Redis to lose"
    await raw.delete(*keys)
    await raw.aclose()


async def test_rules_redis_lost_are_written_back_by_a_process_that_holds_them_and_the_audit_says_so(
    two_processes: tuple[RedisRulesStore, RedisRulesStore],
    redis_server: RedisServer,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    one, other = two_processes
    await one.change(GUILD, 7, 1000.0, lambda rules: rules.updated(server=ScopeLimits(cooldown_s=30)))
    assert (await other.rules(GUILD)).server.cooldown_s == 30  # the other process holds a copy
    await forget_all_rules(redis_server, redis_prefix)

    with caplog.at_level(logging.ERROR):
        kept = await other.rules(GUILD)
    seen_by_one = await one.rules(GUILD)
    trail = await one.audit(GUILD, 10)

    assert kept.server.cooldown_s == 30
    assert seen_by_one.server.cooldown_s == 30
    assert [(entry.user_id, entry.what, entry.old) for entry in trail] == [(BY_THE_BOT, "all rules", "lost from Redis")]
    assert f"the rules of guild_id={GUILD} were gone from Redis" in caplog.text


async def test_a_server_no_process_read_rules_for_has_none_after_redis_lost_them(
    two_processes: tuple[RedisRulesStore, RedisRulesStore], redis_server: RedisServer, redis_prefix: str
) -> None:
    one, other = two_processes
    await one.change(GUILD, 7, 1000.0, lambda rules: rules.updated(server=ScopeLimits(cooldown_s=30)))
    await forget_all_rules(redis_server, redis_prefix)

    assert await other.rules(GUILD) == GuildRules()


@pytest.mark.redis_only
async def test_a_channel_kept_from_video_stays_so_when_redis_loses_the_rules(
    start_bot: StartBot, redis_server: RedisServer, redis_prefix: str
) -> None:
    running = await start_bot()
    admin = running.emulator.add_user("admin")
    running.emulator.add_member(running.guild, admin, permissions=1 << 5)
    studio = running.emulator.add_channel(running.guild, "studio")
    allow = {"action": "allow", "channel": studio}
    await ephemeral_reply(
        await running.emulator.invoke_slash(admin, running.channel, "videoadmin rules channels", allow)
    )
    first = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat"})
    assert f"Try <#{studio.id}>" in await ephemeral_reply(first)

    await forget_all_rules(redis_server, redis_prefix)
    again = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat"})

    assert f"Try <#{studio.id}>" in await ephemeral_reply(again)


async def test_a_change_redis_has_no_memory_for_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    server = RedisServer.start(tmp_path / "redis")
    store = RedisRulesStore(connect(server.url), DEFAULT_PREFIX)
    try:
        await store.change(GUILD, 7, 1000.0, lambda rules: rules.updated(server=ScopeLimits(cooldown_s=30)))
        server.exhaust_memory()

        with pytest.raises(RefusedError, match="Redis, where they are kept, is full right now"):
            await store.change(GUILD, 7, 1001.0, lambda rules: rules.updated(server=ScopeLimits(cooldown_s=60)))
        rules, trail = await store.rules(GUILD), await store.audit(GUILD, 10)
    finally:
        await store.close()
        server.stop()

    assert rules.server.cooldown_s == 30
    assert len(trail) == 1
