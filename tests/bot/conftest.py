"""The bot's tests run the bot and the Discord emulator on one `FakeClock`.

Throttles, cooldowns, the acknowledgement budget, token lifetimes and Discord's 3-second deadline all
read it, so none of them passes because the machine was slow; a test that is about one of them moves
time itself (`running.clock.advance(...)`).
"""

from __future__ import annotations

import pytest

from tests.discord_emulator.models import EmulatorClock
from tests.fakes.clock import FakeClock


@pytest.fixture
def emulator_clock(fake_clock: FakeClock) -> EmulatorClock:
    """Discord's clock is the bot's."""
    return fake_clock
