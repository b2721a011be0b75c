"""How models show in embeds: waiting jobs per model in `/videoadmin stats`, a model loading, a job
waiting for a worker of its model."""

from __future__ import annotations

import discord

from bot.cogs.admin import stats_embed
from bot.discord_io import render
from generation.queue.interface import QueueStats
from generation.request import VideoRequest

REQUEST = VideoRequest(prompt="a fox", model="quality")


def fields(embed: discord.Embed) -> dict[str, str]:
    return {str(field.name): str(field.value) for field in embed.fields}


def stats(**counts: object) -> QueueStats:
    values: dict[str, object] = {
        "waiting": 4,
        "running": 1,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
        "mean_job_s": None,
        "paused": False,
        "gpu_memory_bytes": None,
    }
    return QueueStats(**{**values, **counts})  # type: ignore[arg-type]


def test_stats_list_waiting_jobs_per_model_marking_those_no_live_worker_serves() -> None:
    embed = stats_embed(stats(waiting_by_model=(("fast", 3), ("quality", 1))), live_models=frozenset({"fast"}))

    assert fields(embed)["Waiting by model"] == "`fast` 3\n`quality` 1 · **no live worker serves it**"


def test_stats_without_models_waiting_have_no_per_model_field() -> None:
    assert "Waiting by model" not in fields(stats_embed(stats()))


def test_a_queued_job_says_which_worker_it_waits_for() -> None:
    embed = render.queued_embed(REQUEST, 1, 1, None, waiting_for="quality")

    assert fields(embed)["Waiting"] == "waiting for a worker that serves `quality`"


def test_a_job_whose_model_loads_says_so_until_its_first_step() -> None:
    loading = render.running_embed(REQUEST, 1, 0, 25, 0.0, loading="quality")
    stepping = render.running_embed(REQUEST, 1, 1, 25, 3.0)

    assert fields(loading)["Model"] == "loading `quality`"
    assert "Model" not in fields(stepping)


def test_the_settings_line_names_the_model_first() -> None:
    assert render.settings_text(REQUEST, 7).startswith("model quality · seed 7 · ")
    assert render.settings_text(VideoRequest(prompt="a fox"), 7).startswith("seed 7 · ")
