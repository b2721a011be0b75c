"""The bot's database keeps its schema's version per component and migrates in place when it opens: a
file written by main 5e78cd9 (before versions) upgrades with nothing lost, one a newer version wrote is
refused and left alone, and a migration that fails changes nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.intake.channel_defaults import CHANNEL_DEFAULTS_SCHEMA, ChannelDefaultsStore
from generation.database import Database
from generation.queue.store import JOBS_SCHEMA, JobStore
from generation.schema import NewerDatabaseError, Schema, versions
from tests.fixtures.make_v1_database import LOOKUPS, plain

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
V1_COLUMNS = {"jobs": "seq", "channel_defaults": "guild_id, channel_id", "sqlite_sequence": "name"}


@pytest.fixture
def v1_database(tmp_path: Path) -> Path:
    """A copy of the database main 5e78cd9 wrote (`tests/fixtures/make_v1_database.py`)."""
    copy = tmp_path / "videobot.sqlite3"
    shutil.copyfile(FIXTURES / "v1_database.sqlite3", copy)
    return copy


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables 5e78cd9 had, every column it had (not those added since), in a fixed order."""
    conn = sqlite3.connect(path)
    try:
        return {
            table: conn.execute(f"SELECT {', '.join(v1_columns(table))} FROM {table} ORDER BY {order}").fetchall()
            for table, order in V1_COLUMNS.items()
        }
    finally:
        conn.close()


def v1_columns(table: str) -> list[str]:
    """The columns `table` had in the database 5e78cd9 wrote."""
    conn = sqlite3.connect(FIXTURES / "v1_database.sqlite3")
    try:
        return [name for _, name, *_ in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def contents(path: Path) -> bytes:
    """The file's bytes: what "left as it was" compares."""
    return path.read_bytes()


def recorded_versions(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return versions(conn)
    finally:
        conn.close()


async def open_both(path: Path) -> tuple[JobStore, ChannelDefaultsStore]:
    jobs, defaults = JobStore(path), ChannelDefaultsStore(path)
    await jobs.open()
    await defaults.open()
    return jobs, defaults


async def test_a_new_database_records_each_component_at_its_current_version(tmp_path: Path) -> None:
    jobs, defaults = await open_both(tmp_path / "new.sqlite3")
    await jobs.close()
    await defaults.close()

    assert recorded_versions(tmp_path / "new.sqlite3") == {
        "jobs": JOBS_SCHEMA.version,
        "channel_defaults": CHANNEL_DEFAULTS_SCHEMA.version,
    }


async def test_a_database_from_before_versions_upgrades_with_every_row_and_value_kept(v1_database: Path) -> None:
    before = rows(v1_database)

    jobs, defaults = await open_both(v1_database)
    await jobs.close()
    await defaults.close()

    assert recorded_versions(v1_database) == {
        "jobs": JOBS_SCHEMA.version,
        "channel_defaults": CHANNEL_DEFAULTS_SCHEMA.version,
    }
    assert rows(v1_database) == before
    assert [len(before["jobs"]), len(before["channel_defaults"])] == [10, 3]


async def test_the_upgraded_database_reads_back_as_5e78cd9_read_it(v1_database: Path) -> None:
    then = json.loads((FIXTURES / "v1_database.json").read_text())

    jobs, defaults = await open_both(v1_database)
    now = {
        "history": plain(await jobs.history(None, 100)),
        "history_of_ann": plain(await jobs.history("ann", 100)),
        "unacknowledged": plain(await jobs.unacknowledged()),
        "recent_successes": plain(await jobs.recent_successes(100)),
        "outcomes": plain((await jobs.outcomes())[0]),
        "lookups": [[guild, channel, plain(defaults.lookup(guild, channel))] for guild, channel in LOOKUPS],
        "requeued": plain(await jobs.requeue_interrupted()),
    }
    await jobs.close()
    await defaults.close()

    assert as_then(now, then) == then
    assert [job["info"]["job_id"] for job in then["requeued"]] == ["interrupted", "waiting", "waiting-too"]
    assert then["requeued"][0]["crashes"] == 1


def as_then(now: Any, then: Any) -> Any:
    """`now` with only the fields `then` has: what a later version added to a record is not compared."""
    if isinstance(now, dict) and isinstance(then, dict):
        return {key: as_then(now[key], then[key]) if key in now else None for key in then}
    if isinstance(now, list) and isinstance(then, list) and len(now) == len(then):
        return [as_then(one, other) for one, other in zip(now, then, strict=True)]
    return now


async def test_a_database_from_a_newer_version_is_refused_in_one_line_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "videobot.sqlite3"
    jobs, defaults = await open_both(path)
    await jobs.close()
    await defaults.close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE schema_versions SET version = 7 WHERE component = 'jobs'")
    conn.close()
    written = contents(path)

    with pytest.raises(NewerDatabaseError) as refused:
        await JobStore(path).open()

    assert str(refused.value) == (
        f"DATABASE_PATH={str(path)!r} was written by a newer videobot: jobs at version 7 (this videobot knows "
        f"{JOBS_SCHEMA.version}). Fix: run the newer videobot (this one cannot read what it wrote), or point "
        "DATABASE_PATH at a backup made by this version."
    )
    assert contents(path) == written


async def test_a_new_migration_runs_once_on_an_existing_file(v1_database: Path) -> None:
    with_quota = Schema("jobs", (*JOBS_SCHEMA.migrations, "ALTER TABLE jobs ADD COLUMN quota_key TEXT;"))

    for _ in range(2):  # the second open finds the last version and adds nothing (a second ALTER would fail)
        database = Database(v1_database, "test")
        await database.open(with_quota)
        await database.close()

    conn = sqlite3.connect(v1_database)
    columns = [name for _, name, *_ in conn.execute("PRAGMA table_info(jobs)")]
    conn.close()
    assert columns[-1] == "quota_key"
    assert recorded_versions(v1_database)["jobs"] == JOBS_SCHEMA.version + 1


async def test_a_migration_that_fails_leaves_the_file_as_it_was(v1_database: Path) -> None:
    before = contents(v1_database)
    broken = Schema(
        "jobs", (*JOBS_SCHEMA.migrations, "ALTER TABLE jobs ADD COLUMN quota_key TEXT", "SELECT nonsense()")
    )

    with pytest.raises(sqlite3.OperationalError, match="no such function: nonsense"):
        await Database(v1_database, "test").open(broken)

    conn = sqlite3.connect(v1_database)
    columns = [name for _, name, *_ in conn.execute("PRAGMA table_info(jobs)")]
    conn.close()
    assert "quota_key" not in columns
    assert recorded_versions(v1_database) == {}
    assert contents(v1_database) == before


async def test_a_migration_in_sql_may_hold_semicolons_in_strings_and_trigger_bodies(tmp_path: Path) -> None:
    audit = Schema(
        "audit",
        (
            """
            CREATE TABLE audit (what TEXT NOT NULL);  -- a comment; with a semicolon
            CREATE TRIGGER audit_stamp AFTER INSERT ON audit BEGIN
                UPDATE audit SET what = new.what || '; seen' WHERE rowid = new.rowid;
            END;
            INSERT INTO audit VALUES ('created; by the migration')
            """,
        ),
    )
    database = Database(tmp_path / "audit.sqlite3", "test")
    await database.open(audit)

    found = await database.run(lambda conn: conn.execute("SELECT what FROM audit").fetchall())
    await database.close()

    assert found == [("created; by the migration; seen",)]
