"""Whether the file at DATABASE_PATH can be the bot's database, found before anything else starts.

    problem = check_database(settings.database_path, (JOBS_SCHEMA, CHANNEL_DEFAULTS_SCHEMA))
    if problem is not None:
        print(f"{problem.message} Fix: {problem.fix}.")

Three things stop the bot, each one line with its fix, instead of a traceback from the first query:
a file that is not a SQLite database at all (SQLite says so only when it first reads it), one that is
damaged (`PRAGMA quick_check`: every page and record read, in time linear in the file; not
`integrity_check`, which also cross-checks every index against its table and can take minutes), and one
a newer videobot wrote (`generation.schema`). A missing file is no problem: the first start creates it.
The check opens the file without creating it, and changes nothing in it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from generation.schema import NEWER_FIX, Schema, describe_newer, newer_than_known, versions

# SQLite's primary result codes (sqlite3.h): what else fails is reported as damage.
_NOT_A_DATABASE: Final = 26  # SQLITE_NOTADB
_CANT_OPEN: Final = 14  # SQLITE_CANTOPEN: no permission to read the file, or to make its -wal and -shm
_BUSY: Final = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED: another program holds a lock past the busy timeout


@dataclass(frozen=True)
class DatabaseProblem:
    """Why the file cannot be used, and what the operator can do about it."""

    message: str
    fix: str


def check_database(path: Path, schemas: Iterable[Schema]) -> DatabaseProblem | None:
    """The problem with the database at `path` for these components' `schemas`, or None if it is usable."""
    if not path.is_file():
        return None
    shown = f"DATABASE_PATH={str(path)!r}"
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True)
    except sqlite3.Error as error:
        fix = f"give the file to uid {os.getuid()}, or move it away"
        return DatabaseProblem(f"{shown} cannot be opened: {error}.", fix)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        findings = [str(row[0]) for row in conn.execute("PRAGMA quick_check(1)")]
        if findings != ["ok"]:
            # A finding spans lines ("*** in database main ***", then the page): the report is one.
            return _damaged(path, f"PRAGMA quick_check found {' '.join(findings[0].split())}")
        newer = newer_than_known(versions(conn), schemas)
    except sqlite3.DatabaseError as error:
        code = getattr(error, "sqlite_errorcode", None)
        if code == _NOT_A_DATABASE:
            message = f"{shown} is not a SQLite database (SQLite: {error})."
            fix = (
                "point DATABASE_PATH at the bot's database file, or at a path that does not exist yet for a new "
                f"one; if this is the bot's database, it is damaged beyond reading: {_RESTORE}"
            )
            return DatabaseProblem(message, fix)
        if code in _BUSY:
            return DatabaseProblem(f"{shown} is locked by another program ({error}).", "stop the other program")
        if code == _CANT_OPEN:
            fix = f"give the file and its folder to uid {os.getuid()}, or move it away"
            return DatabaseProblem(f"{shown} cannot be opened: {error}.", fix)
        return _damaged(path, f"reading it failed: {error}")
    finally:
        conn.close()
    if newer:
        return DatabaseProblem(describe_newer(path, newer), NEWER_FIX)
    return None


_RESTORE: Final = (
    "stop the bot, and put the last backup in its place (docs/deploy.md, 'Backing up the database'), "
    "or move the file away to start with an empty database"
)


def _damaged(path: Path, finding: str) -> DatabaseProblem:
    return DatabaseProblem(f"DATABASE_PATH={str(path)!r} is damaged: {finding}.", _RESTORE)
