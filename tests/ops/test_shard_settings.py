"""SHARD_COUNT and SHARD_IDS: checked at start-up in one line each, and what they make of the bot and
its name in Redis (QUEUE_ORIGIN)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from bot.startup.client import ShardedVideoBot, VideoBot, build_bot
from bot.startup.problems import StartupCheckFailed, StartupProblem, load_settings_or_explain
from generation.queue.local import LocalJobQueue
from tests.fakes.generator import FakeGenerator
from tests.ops.test_startup_checks import TOKEN


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No .env and no setting from the machine running the tests; the token set."""
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "videobot.sqlite3"))


def load(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Settings:
    """The settings start-up builds from these environment variables."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return load_settings_or_explain(env_file=None)


def refusal(monkeypatch: pytest.MonkeyPatch, **variables: str) -> StartupProblem:
    """The one problem start-up reports for these variables, which must be SHARD_IDS's, on one line."""
    with pytest.raises(StartupCheckFailed) as failure:
        load(monkeypatch, **variables)
    (problem,) = failure.value.problems
    assert (problem.setting, problem.fatal) == ("SHARD_IDS", True)
    assert "\n" not in problem.line()
    return problem


def test_shard_ids_outside_the_shard_count_are_refused_naming_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = refusal(monkeypatch, SHARD_COUNT="2", SHARD_IDS="1,2")

    assert problem.message == "SHARD_IDS='1,2' is invalid: each id must be within 0..1 (SHARD_COUNT)."


def test_a_shard_listed_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = refusal(monkeypatch, SHARD_COUNT="4", SHARD_IDS="0-2,2")

    assert problem.message == "SHARD_IDS='0,1,2,2' is invalid: lists a shard twice."


def test_shard_ids_without_a_shard_count_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = refusal(monkeypatch, SHARD_IDS="0")

    assert "needs SHARD_COUNT" in problem.message
    assert problem.fix.startswith("correct SHARD_IDS in .env or the environment: the shards this process runs")


@pytest.mark.parametrize("value", ["zero", "1-0", "0;1", "-1"])
def test_shard_ids_that_are_no_ids_or_ranges_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    problem = refusal(monkeypatch, SHARD_COUNT="2", SHARD_IDS=value)

    assert "must be shard ids or ranges separated by commas, e.g. 0,1 or 0-3" in problem.message


def test_ids_and_ranges_name_the_shards_and_this_process_in_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, SHARD_COUNT="8", SHARD_IDS="4-6, 0")

    assert settings.shard_ids == [4, 5, 6, 0]
    assert settings.queue_origin == "shards-4-5-6-0"


def test_a_queue_origin_that_is_set_wins_over_the_one_from_the_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, SHARD_COUNT="2", SHARD_IDS="1", QUEUE_ORIGIN="eu-bot")

    assert settings.queue_origin == "eu-bot"


def test_without_shard_settings_the_bot_is_unsharded_under_its_usual_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch)

    bot = build_bot(settings, LocalJobQueue(settings, settings, FakeGenerator()))

    assert type(bot) is VideoBot
    assert (bot.shard_count, settings.queue_origin) == (None, "bot")


def test_shard_settings_build_a_bot_that_runs_those_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, SHARD_COUNT="4", SHARD_IDS="2,3")

    bot = build_bot(settings, LocalJobQueue(settings, settings, FakeGenerator()))

    assert isinstance(bot, ShardedVideoBot)
    assert (bot.shard_count, bot.shard_ids) == (4, [2, 3])
