"""DATABASE_PATH is read through before Discord is contacted: a file that is not a SQLite database, a
damaged one (`PRAGMA quick_check`) and one a newer videobot wrote each stop the start with one line and
its fix, instead of a traceback from the first query; a missing file is left for the first start."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.settings import Settings
from bot.startup.checks import check_startup
from bot.startup.problems import EXIT_CONFIG, StartupProblem
from generation.queue.interface import JobInfo, JobSpec, JobStatus
from generation.queue.store import JOBS_SCHEMA, JobStore
from generation.request import VideoRequest
from tests.discord_emulator import DiscordEmulator
from tests.ops.entry_points import run_module_async
from tests.ops.test_discord_startup import bot_environment
from tests.ops.test_startup_checks import GPU, TOKEN

PAGE = 4096  # SQLite's default page size, which the bot keeps


def settings(database: Path, **overrides: object) -> Settings:
    values = {"discord_token": TOKEN, "database_path": database, "output_dir": database.parent / "outputs"}
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[arg-type]


def database_problems(database: Path, **overrides: object) -> list[StartupProblem]:
    found = check_startup(settings(database, **overrides), gpu=GPU, hf_offline=False, env_file=None)
    return [problem for problem in found if problem.setting == "DATABASE_PATH"]


async def write_jobs(database: Path, count: int) -> None:
    """A real database of `count` finished jobs, closed (its write-ahead log folded into the file)."""
    store = JobStore(database)
    await store.open()
    jobs = [
        JobInfo(f"job-{n}", JobSpec(VideoRequest(prompt=f"a lighthouse in a storm, take {n} " * 8), "ann"),
                JobStatus.SUCCEEDED, position=None, eta_s=None, submitted_at=n, finished_at=n + 1.0)
        for n in range(count)
    ]  # fmt: skip
    await store.save(jobs)
    await store.close()


def overwrite(database: Path, offset: int, garbage: bytes) -> None:
    with database.open("r+b") as file:
        file.seek(offset)
        file.write(garbage)


async def test_a_file_that_is_not_a_database_is_one_line_before_discord_is_contacted(
    discord_emulator: DiscordEmulator, tmp_path: Path
) -> None:
    notes = tmp_path / "videobot.sqlite3"
    notes.write_text("DISCORD_TOKEN=… these are my notes, not a database\n" * 20)
    env = bot_environment(discord_emulator, DATABASE_PATH=str(notes))

    done = await run_module_async("bot", cwd=tmp_path, env=env)

    assert done.status == EXIT_CONFIG
    assert done.stderr_lines == [
        f"error: DATABASE_PATH={str(notes)!r} is not a SQLite database (SQLite: file is not a database). Fix: point "
        "DATABASE_PATH at the bot's database file, or at a path that does not exist yet for a new one; if this is "
        "the bot's database, it is damaged beyond reading: stop the bot, and put the last backup in its place "
        "(docs/deploy.md, 'Backing up the database'), or move the file away to start with an empty database."
    ]
    assert discord_emulator.requests == []


async def test_damage_that_opening_does_not_notice_is_found_at_start_by_quick_check(tmp_path: Path) -> None:
    database = tmp_path / "videobot.sqlite3"
    await write_jobs(database, 200)
    size = database.stat().st_size
    overwrite(database, size - 4 * PAGE, bytes(range(256)) * (4 * PAGE // 256))  # the last pages: jobs' records
    store = JobStore(database)
    await store.open()  # the versions and the schema, on the first pages, read fine
    await store.close()

    (problem,) = database_problems(database)

    assert problem.fatal
    assert problem.message.startswith(f"DATABASE_PATH={str(database)!r} is damaged: PRAGMA quick_check found ")
    assert "\n" not in problem.line()
    assert problem.fix.startswith("stop the bot, and put the last backup in its place")


async def test_a_database_a_newer_videobot_wrote_stops_the_start_in_one_line(tmp_path: Path) -> None:
    database = tmp_path / "videobot.sqlite3"
    await write_jobs(database, 1)
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("UPDATE schema_versions SET version = version + 1 WHERE component = 'jobs'")
    conn.close()

    (problem,) = database_problems(database)

    assert problem.fatal
    assert problem.line() == (
        f"DATABASE_PATH={str(database)!r} was written by a newer videobot: jobs at version "
        f"{JOBS_SCHEMA.version + 1} (this videobot knows {JOBS_SCHEMA.version}). Fix: run the newer videobot "
        "(this one cannot read what it wrote), or point DATABASE_PATH at a backup made by this version."
    )


async def test_a_healthy_database_passes(tmp_path: Path) -> None:
    database = tmp_path / "videobot.sqlite3"
    await write_jobs(database, 50)

    assert database_problems(database) == []


def test_a_missing_database_is_no_problem_and_is_not_created_by_the_check(tmp_path: Path) -> None:
    database = tmp_path / "state" / "videobot.sqlite3"

    assert database_problems(database) == []
    assert not database.parent.exists()


def test_a_bot_on_redis_checks_its_database_too_which_holds_the_channel_defaults(tmp_path: Path) -> None:
    database = tmp_path / "videobot.sqlite3"
    database.write_bytes(b"\0" * 16 + b"not SQLite" * 100)

    (problem,) = database_problems(database, queue_url="redis://queue:6379/0")

    assert problem.message.endswith("is not a SQLite database (SQLite: file is not a database).")


async def test_a_version_that_is_no_number_is_reported_as_damage_not_a_traceback(tmp_path: Path) -> None:
    database = tmp_path / "videobot.sqlite3"
    await write_jobs(database, 1)
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("UPDATE schema_versions SET version = 'two' WHERE component = 'jobs'")
    conn.close()

    (problem,) = database_problems(database)

    assert problem.message == (
        f"DATABASE_PATH={str(database)!r} is damaged: reading it failed: schema_versions holds 'two' for 'jobs', "
        "not a version."
    )
