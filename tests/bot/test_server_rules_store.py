"""The SQLite rules store: one transaction per change (a refused edit leaves no trace), and rows read back
as untrusted input."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.moderation.rules_store import SqliteRulesStore
from bot.moderation.server_rules import GuildRules, ScopeLimits

GUILD = 4242


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteRulesStore]:
    opened = SqliteRulesStore(tmp_path / "videobot.sqlite3")
    await opened.open()
    yield opened
    await opened.close()


async def test_a_refused_edit_stores_nothing_and_records_nothing(store: SqliteRulesStore) -> None:
    await store.change(GUILD, 7, 1000.0, lambda rules: rules.updated(server=ScopeLimits(cooldown_s=30)))

    def refused(rules: GuildRules) -> GuildRules:
        rules.updated(server=ScopeLimits(cooldown_s=5))
        raise ValueError("not today")

    with pytest.raises(ValueError, match="not today"):
        await store.change(GUILD, 8, 1001.0, refused)

    assert (await store.rules(GUILD)).server.cooldown_s == 30
    assert [entry.user_id for entry in await store.audit(GUILD, 10)] == [7]


async def test_an_edit_that_changes_nothing_records_nothing(store: SqliteRulesStore) -> None:
    assert await store.change(GUILD, 7, 1000.0, lambda rules: rules) == []
    assert await store.audit(GUILD, 10) == []


async def test_a_damaged_row_is_logged_and_read_as_no_rule(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "videobot.sqlite3"
    first = SqliteRulesStore(path)
    await first.open()
    await first.change(GUILD, 7, 1000.0, lambda rules: rules.updated(server=ScopeLimits(max_steps=10)))
    await first.close()
    conn = sqlite3.connect(path)
    with conn:  # commits; closing is separate
        conn.execute('UPDATE server_rules SET rules = \'{"server": {"max_steps": 0}}\'')
    conn.close()

    again = SqliteRulesStore(path)
    with caplog.at_level(logging.ERROR):
        await again.open()
    rules = await again.rules(GUILD)
    await again.close()

    assert rules == GuildRules()
    assert f"damaged rules of guild_id={GUILD}" in caplog.text
