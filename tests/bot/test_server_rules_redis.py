"""Server rules shared in Redis: every bot process sees each other's changes at its next /video, and what
Redis hands back is checked, so a damaged record is logged and read as no rule."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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
