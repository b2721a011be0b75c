"""SQLite the way this project uses it: one connection per store, on a thread of its own.

The bot's database is one file, shared by the job store and the channel defaults. Each store keeps one
connection in autocommit mode on its own thread (a connection must stay on one thread, and a query
must never run on the event loop), writes in explicit `BEGIN IMMEDIATE` transactions, and opens the
file in WAL mode with `synchronous=NORMAL` and a busy timeout: readers never wait for writers, the two
stores wait for each other only briefly, and a crash of the process loses nothing committed. Each store
names its tables' `generation.schema.Schema`, and opening brings them to its version (migrations in place).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from generation.schema import Schema

_T = TypeVar("_T")


def connect(path: Path) -> sqlite3.Connection:
    """A connection to `path` (created with its folder if needed) set up as the module docstring says."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error (the connection runs in autocommit mode)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Database:
    """One connection to the file at `path`, used only from one dedicated thread named `name`."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._conn: sqlite3.Connection | None = None

    async def open(self, schema: Schema) -> None:
        """Connect and bring `schema`'s tables to its version (created in a new file, migrated in an older one).

        Raises `generation.schema.NewerDatabaseError` for a file a newer version wrote (and leaves it as it was).
        """

        def open_() -> None:
            conn = connect(self.path)
            try:
                schema.migrate(conn, self.path)
            except BaseException:
                conn.close()
                raise
            self._conn = conn

        await self._submit(open_)

    async def run(self, work: Callable[..., _T], *args: Any) -> _T:
        """`work(connection, *args)` on the database's thread.

        Work handed over before `close` still runs, on the connection it was handed with.
        """
        conn = self._connection()
        return await self._submit(lambda: work(conn, *args))

    async def close(self) -> None:
        """Close the connection after the work already handed over; idempotent."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self._submit(conn.close)
        self._thread.shutdown(wait=False)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"the database {self.path} is not open")
        return self._conn

    async def _submit(self, work: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)
