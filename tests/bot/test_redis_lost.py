"""Redis restarted without its data while users wait: each is told their job was lost, and Re-roll works.

The Redis here is the test's own, without AOF, so stopping and starting it on its port empties it.
The bot's queue tick is run once by hand: the specification is "within one tick".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.discord_emulator import Interaction
from tests.fakes.generator import FakeGenerator
from tests.fixtures.bot import RunningBot, StartBot, button_ids, embed_text, finished
from tests.fixtures.redis_server import RedisServer

log = logging.getLogger(__name__)

pytestmark = pytest.mark.redis_only


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """This test's own Redis, without AOF (in place of the session's shared one)."""
    server = RedisServer.start(tmp_path / "redis")
    yield server
    server.stop()


def told_lost(job: Interaction) -> bool:
    """The job's status message says it was lost and can be asked again, with a Re-roll button."""
    text = embed_text(job.original)
    offered = job.original is not None and any(button.startswith("job:reroll:") for button in button_ids(job.original))
    return "lost this job" in text and "ask again" in text and offered


async def ask(running: RunningBot, prompt: str) -> Interaction:
    job = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": prompt})
    await job.wait_for_response()
    return job


async def test_users_whose_jobs_redis_lost_are_told_within_one_tick_and_can_reroll(
    start_bot: StartBot, redis_server: RedisServer
) -> None:
    generator = FakeGenerator(hold_steps=True)
    running = await start_bot(generator)
    heron = await ask(running, "a heron -seed 3")
    await generator.steps.arrived(1)  # running
    crane = await ask(running, "a crane -seed 4")  # waiting behind it

    redis_server.stop()
    redis_server.restart()  # empty
    lost_at = time.monotonic()
    await running.queue.redis.tick()
    await running.emulator.wait_for(lambda: told_lost(heron) and told_lost(crane))
    log.info("redis lost its data: 2 users told %.3f s after it came back", time.monotonic() - lost_at)

    assert heron.original is not None
    reroll = next(custom_id for custom_id in button_ids(heron.original) if custom_id.startswith("job:reroll:"))
    generator.steps.open()
    again = await running.emulator.click_button(running.alice, heron.original, reroll)
    video = await finished(running.emulator, again)
    assert "a heron" in embed_text(video)
