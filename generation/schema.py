"""Versions of the bot's database, one per component, and the migrations that move a file forward.

The bot's one SQLite file holds the tables of several components (the job store, the channel defaults,
and whatever comes next). Each declares a `Schema`: its name and an ordered tuple of migrations, where
the one at index N takes its tables from version N to N + 1 (the first creates version 1).
`schema_versions` records the version each component is at; opening a store runs the migrations it lacks:

    JOBS = Schema("jobs", (create_v1, "ALTER TABLE jobs ADD COLUMN quota_key TEXT"))
    await Database(path, "job-store").open(JOBS)          # runs JOBS.migrate(connection, path)

A component's pending migrations and its new version are committed in one transaction (SQLite's DDL is
transactional), so a migration that fails leaves the file as it was; the write lock it takes also keeps
two processes from migrating at once. A migration is never edited once released: a change is a new one.

A file from before `schema_versions` (main up to 5e78cd9) has no row for any component, like a new
file. So each component's first migration creates its tables *if they do not exist* and repairs what
older files lacked, which makes it version 1 of either. A component at a version above the migrations
this code knows was written by a newer videobot: `NewerDatabaseError`, and nothing is changed.
Components this code does not know (a newer one's tables) are left alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from generation.database import transaction
from generation.errors import shown

Migration = str | Callable[[sqlite3.Connection], None]
"""SQL statements (`;`-separated), or a function of the connection, run inside the migration's transaction."""

_VERSIONS: Final = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version   INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class Schema:
    """One component's tables: its name in `schema_versions`, and the migrations that build them in order."""

    component: str
    migrations: tuple[Migration, ...]

    @property
    def version(self) -> int:
        """The version the migrations lead to: the one this code reads and writes."""
        return len(self.migrations)

    def migrate(self, conn: sqlite3.Connection, path: Path) -> None:
        """Bring this component's tables in the file at `path` to `version`, in one transaction.

        Raises `NewerDatabaseError` (with nothing changed) if the file holds the component at a higher version.
        """
        with transaction(conn):
            conn.execute(_VERSIONS)
            found = versions(conn).get(self.component, 0)
            if found > self.version:
                raise NewerDatabaseError(path, [NewerVersion(self.component, found, self.version)])
            for migration in self.migrations[found:]:
                _apply(conn, migration)
            if found < self.version:
                conn.execute(
                    "INSERT INTO schema_versions VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = ?",
                    (self.component, self.version, self.version),
                )


@dataclass(frozen=True)
class NewerVersion:
    """A component the file holds at a version above what this code knows."""

    component: str
    found: int
    known: int


class NewerDatabaseError(Exception):
    """The database was written by a newer videobot; `str()` is one line that names the fix."""

    def __init__(self, path: Path, newer: Iterable[NewerVersion]) -> None:
        self.path = path
        self.newer = tuple(newer)
        super().__init__(f"{describe_newer(path, self.newer)} Fix: {NEWER_FIX}.")


NEWER_FIX: Final = (
    "run the newer videobot (this one cannot read what it wrote), or point DATABASE_PATH at a backup made by "
    "this version"
)


def describe_newer(path: Path, newer: Iterable[NewerVersion]) -> str:
    """One sentence naming the file and each component that is newer than this code."""
    found = ", ".join(f"{one.component} at version {one.found} (this videobot knows {one.known})" for one in newer)
    return f"DATABASE_PATH={str(path)!r} was written by a newer videobot: {found}."


def versions(conn: sqlite3.Connection) -> dict[str, int]:
    """The version of each component the file records; empty for a file from before versions."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'").fetchone() is None:
        return {}
    found: dict[str, int] = {}
    for component, version in conn.execute("SELECT component, version FROM schema_versions"):
        if not isinstance(component, str) or not isinstance(version, int):  # the file is input, like any
            raise sqlite3.DatabaseError(f"schema_versions holds {shown(version)} for {shown(component)}, not a version")
        found[component] = version
    return found


def newer_than_known(found: Mapping[str, int], schemas: Iterable[Schema]) -> list[NewerVersion]:
    """The known components that `found` (from `versions`) holds at a version above their schema's."""
    return [
        NewerVersion(schema.component, found[schema.component], schema.version)
        for schema in schemas
        if found.get(schema.component, 0) > schema.version
    ]


def statements(sql: str) -> list[str]:
    """The statements of `sql`, one by one: `executescript` would commit the migration's transaction."""
    done: list[str] = []
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        # complete_statement knows SQL's lexis (a `;` in a string, a comment or a trigger's body ends nothing).
        if sqlite3.complete_statement(pending):
            done.append(pending.strip())
            pending = ""
    if pending.strip() and not _only_comments(pending):
        done.append(pending.strip())
    return done


def _only_comments(sql: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in sql.splitlines())


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    if isinstance(migration, str):
        for statement in statements(migration):
            conn.execute(statement)
    else:
        migration(conn)
