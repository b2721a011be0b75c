"""Where server rules and their audit trail are kept: the `RulesStore` seam and its SQLite form.

SQLite (the bot's one database file, see `generation.database`) serves a bot on one machine; with
QUEUE_URL every bot process shares `bot.moderation.rules_redis.RedisRulesStore` instead. Both change
rules the same way: read the stored document, apply the edit, write it and its audit entries in one
transaction, so two admins' edits never undo each other and no change goes unrecorded.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol

from pydantic import ValidationError

from bot.moderation.rules_audit import AuditEntry, changes
from bot.moderation.server_rules import NO_RULES, GuildRules
from generation.database import Database, transaction
from generation.schema import Schema

log = logging.getLogger(__name__)

Edit = Callable[[GuildRules], GuildRules]
"""A change to one server's rules; may raise `ValueError` to refuse it (nothing is stored then)."""

RULES_SCHEMA: Final = Schema(
    "server_rules",
    (
        # Version 1; never edited: a change is a new migration after it.
        """
        CREATE TABLE IF NOT EXISTS server_rules (
            guild_id INTEGER PRIMARY KEY,
            rules TEXT NOT NULL,
            version INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS rules_audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            guild_id INTEGER NOT NULL,
            at REAL NOT NULL,
            user_id INTEGER NOT NULL,
            what TEXT NOT NULL,
            old TEXT NOT NULL,
            new TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS rules_audit_by_guild ON rules_audit (guild_id, id);
        """,
    ),
)


class RulesStore(Protocol):
    """Server rules and their audit trail, shared by every bot process that uses the same store."""

    async def open(self) -> None:
        """Connect (and create what is missing)."""

    async def close(self) -> None:
        """Disconnect."""

    async def rules(self, guild_id: int) -> GuildRules:
        """The server's rules as stored now (empty when none, or when the stored ones are damaged)."""

    async def change(self, guild_id: int, user_id: int, at: float, edit: Edit) -> list[AuditEntry]:
        """Apply `edit` atomically and record each changed item for `user_id` at `at`; the entries recorded."""

    async def audit(self, guild_id: int, limit: int) -> list[AuditEntry]:
        """The server's last `limit` changes, newest first."""


def parse_rules(guild_id: int, text: str | bytes | None) -> GuildRules:
    """A stored document, or empty rules (logged) when it is missing or damaged: never an exception."""
    if text is None:
        return NO_RULES
    try:
        return GuildRules.from_json(text)
    except (ValidationError, ValueError) as error:
        log.error("ignoring the damaged rules of guild_id=%s (treated as no rule): %s", guild_id, error)
        return NO_RULES


class SqliteRulesStore:
    """Rules in the bot's SQLite file. One bot process owns that file (the instance lock), so every
    server's rules are also held in memory and a `/video` never waits for the database."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, "server-rules")
        self._rules: dict[int, GuildRules] = {}

    async def open(self) -> None:
        """Create the tables if needed and load every server's rules."""
        await self._db.open(RULES_SCHEMA)
        rows = await self._db.run(lambda conn: conn.execute("SELECT guild_id, rules FROM server_rules").fetchall())
        self._rules = {guild: parse_rules(guild, text) for guild, text in rows}

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def rules(self, guild_id: int) -> GuildRules:
        """The server's rules (from memory)."""
        return self._rules.get(guild_id, NO_RULES)

    async def change(self, guild_id: int, user_id: int, at: float, edit: Edit) -> list[AuditEntry]:
        """Apply `edit` and record the audit entries in one transaction."""

        def store(conn: sqlite3.Connection) -> tuple[GuildRules, list[AuditEntry]]:
            with transaction(conn):
                row = conn.execute("SELECT rules FROM server_rules WHERE guild_id = ?", (guild_id,)).fetchone()
                old = parse_rules(guild_id, None if row is None else row[0])
                new = edit(old)
                entries = changes(old, new, user_id, at)
                if entries:
                    conn.execute(
                        "INSERT INTO server_rules VALUES (?, ?, 1) ON CONFLICT (guild_id) DO UPDATE "
                        "SET rules = excluded.rules, version = version + 1",
                        (guild_id, new.to_json()),
                    )
                    conn.executemany(
                        "INSERT INTO rules_audit (guild_id, at, user_id, what, old, new) VALUES (?, ?, ?, ?, ?, ?)",
                        [(guild_id, e.at, e.user_id, e.what, e.old, e.new) for e in entries],
                    )
                return new, entries

        new, entries = await self._db.run(store)
        self._rules[guild_id] = new
        return entries

    async def audit(self, guild_id: int, limit: int) -> list[AuditEntry]:
        """The last `limit` entries, newest first."""
        rows = await self._db.run(
            lambda conn: conn.execute(
                "SELECT at, user_id, what, old, new FROM rules_audit WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
                (guild_id, limit),
            ).fetchall()
        )
        return [AuditEntry(float(at), int(user), str(what), str(old), str(new)) for at, user, what, old, new in rows]
