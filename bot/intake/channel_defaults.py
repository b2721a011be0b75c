"""Per-server and per-channel defaults that admins set with `/videoadmin defaults`, kept in SQLite
(the bot's one database file, used as `generation.database` describes)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

from bot.intake.options import ChannelDefaults
from generation.database import Database, transaction
from generation.schema import Schema

SERVER_WIDE = 0

CHANNEL_DEFAULTS_SCHEMA = Schema(
    "channel_defaults",
    (
        # Version 1, as main 5e78cd9 created it; never edited: a change is a new migration after it.
        """
        CREATE TABLE IF NOT EXISTS channel_defaults (
            guild_id INTEGER NOT NULL,
            channel_id INTEGER NOT NULL,
            options TEXT NOT NULL,
            PRIMARY KEY (guild_id, channel_id)
        )
        """,
    ),
)


class ChannelDefaultsStore:
    """Reads and writes defaults. Every `/video` asks, so all of them are held in memory (one row per
    configured channel or server) and a lookup never waits for the database."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, "channel-defaults")
        self._defaults: dict[tuple[int, int], ChannelDefaults] = {}

    async def open(self) -> None:
        """Create the table if needed (or migrate an older file's) and load every row."""
        await self._db.open(CHANNEL_DEFAULTS_SCHEMA)
        rows = await self._db.run(
            lambda conn: conn.execute("SELECT guild_id, channel_id, options FROM channel_defaults").fetchall()
        )
        self._defaults = {(guild, channel): _defaults(channel, options) for guild, channel, options in rows}

    async def close(self) -> None:
        """Close the database connection."""
        await self._db.close()

    def lookup(self, guild_id: int | None, channel_id: int | None) -> list[ChannelDefaults]:
        """Defaults that apply in a channel, most specific first (channel, then server)."""
        if guild_id is None:
            return []
        scopes = [channel_id, SERVER_WIDE] if channel_id else [SERVER_WIDE]
        found = [self._defaults.get((guild_id, scope)) for scope in scopes]
        return [defaults for defaults in found if defaults is not None]

    async def set(self, guild_id: int, channel_id: int, defaults: ChannelDefaults) -> None:
        """Replace the defaults of one channel (or the server with `SERVER_WIDE`)."""
        values = {k: v for k, v in dataclasses.asdict(defaults).items() if v is not None and k != "scope"}
        options = json.dumps(values)

        def store(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                if values:
                    conn.execute(
                        "INSERT OR REPLACE INTO channel_defaults VALUES (?, ?, ?)", (guild_id, channel_id, options)
                    )
                else:
                    conn.execute(
                        "DELETE FROM channel_defaults WHERE guild_id = ? AND channel_id = ?", (guild_id, channel_id)
                    )

        await self._db.run(store)
        if values:
            self._defaults[(guild_id, channel_id)] = _defaults(channel_id, options)
        else:
            self._defaults.pop((guild_id, channel_id), None)


def _defaults(channel_id: int, options: str) -> ChannelDefaults:
    scope = "server" if channel_id == SERVER_WIDE else "channel"
    return ChannelDefaults(scope=scope, **json.loads(options))
