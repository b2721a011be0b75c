"""How much of its budget an interaction has left when its handler starts: counted from its creation.

An interaction that waited in a burst is already late when its handler starts, and Discord's deadline
counts from its creation, so its age is believed up to that deadline; only an age no interaction can
have (in the future, or past Discord's deadline: a host clock off from Discord's) counts from now.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any, cast

import discord
import pytest

from bot.discord_io.acknowledgement import ACK_BUDGET_S, DISCORD_DEADLINE_S, Acknowledgement, Deferral
from tests.fakes.clock import FakeClock


def budget_left(age_s: float) -> float:
    """The budget an interaction created `age_s` ago on the bot's clock has left."""
    clock = FakeClock()
    created = dt.datetime.fromtimestamp(clock.time() - age_s, dt.UTC)
    # Only the creation time is read here; the rest of discord.Interaction plays no part.
    interaction = cast(discord.Interaction[Any], SimpleNamespace(created_at=created))
    return Acknowledgement(interaction, clock, Deferral.PUBLIC, ACK_BUDGET_S).remaining_s()


def test_a_fresh_interaction_has_its_whole_budget() -> None:
    assert budget_left(0.0) == pytest.approx(ACK_BUDGET_S, abs=1e-3)


def test_an_interaction_that_waited_has_what_is_left_of_it() -> None:
    assert budget_left(0.2) == pytest.approx(ACK_BUDGET_S - 0.2, abs=1e-3)


def test_an_interaction_that_waited_past_the_budget_is_deferred_at_once() -> None:
    assert budget_left(ACK_BUDGET_S + 1.0) <= 0.0


def test_an_age_past_discords_deadline_is_a_clock_off_and_counts_from_now() -> None:
    assert budget_left(DISCORD_DEADLINE_S + 60.0) == pytest.approx(ACK_BUDGET_S, abs=1e-3)


def test_an_interaction_from_the_future_is_a_clock_off_and_counts_from_now() -> None:
    assert budget_left(-5.0) == pytest.approx(ACK_BUDGET_S, abs=1e-3)
