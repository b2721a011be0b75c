"""The garbage collector once the bot has started: start-up objects frozen, full collections spaced out.

Run in a fresh interpreter: freezing is for the life of the process, and this one runs the other tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from bot.startup.collector import FULL_EVERY
from tests.patience import PATIENCE_S

PROBE = """
import gc, json
before = gc.get_threshold()
import bot.startup.run  # what the bot has loaded by the time it settles
from bot.startup.collector import settle_after_start
settle_after_start()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count(),
                  "watched": len(gc.get_objects())}))
"""


@dataclass(frozen=True)
class Settled:
    """The collector's state in a fresh interpreter before and after `settle_after_start`."""

    before: list[int]
    after: list[int]
    frozen: int
    watched: int


def settled() -> Settled:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=2 * PATIENCE_S
    )
    return Settled(**json.loads(done.stdout.splitlines()[-1]))


def test_what_is_alive_after_start_up_is_out_of_the_collectors_sight() -> None:
    report = settled()

    assert report.frozen > 10 * report.watched  # the modules, classes and data loaded at start-up


def test_full_collections_are_spaced_out_and_young_ones_left_as_python_sets_them() -> None:
    report = settled()

    assert report.after == [report.before[0], report.before[1], FULL_EVERY]
