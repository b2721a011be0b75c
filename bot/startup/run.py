"""The running bot: Discord checked, then the queue and the bot, wired once and shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from bot.settings import Settings
from bot.startup.client import build_bot
from bot.startup.collector import settle_after_start
from bot.startup.discord_login import check_discord, reach_gateway
from bot.startup.endpoints import point_discord_at
from bot.startup.event_loop import loop_name
from bot.startup.problems import StartupCheckFailed, StartupProblem
from generation.queue.interface import JobQueue
from generation.queue_factory import create_queue

log = logging.getLogger(__name__)
T = TypeVar("T")


async def main(settings: Settings, queue: JobQueue | None = None) -> None:
    """Run the bot until SIGINT/SIGTERM, then stop taking jobs and let the running one finish.

    With QUEUE_URL, Redis is checked first (it answers, takes the credentials, never evicts keys): its
    mistakes are said even while Discord cannot be reached. Then Discord (token, DISCORD_GUILD_IDS; see
    `bot.startup.discord_login`), so a mistake there is reported before the GPU stack loads. `StartupCheckFailed`
    carries what only the operator can fix. `queue` defaults to the
    in-process queue on this machine's GPU, or with QUEUE_URL to the queue in Redis in front of GPU
    workers elsewhere (benchmarks hand in their own).
    """
    point_discord_at(settings.discord_api_url, settings.discord_gateway_url)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    if queue is None:
        await _check_queue_url(settings)
    if await _unless_stopped(check_discord(settings), stopping) is None:
        log.info("shutdown requested before Discord could be reached")
        return
    log.info("event loop: %s", loop_name(loop))
    if queue is None:
        queue = create_queue(settings, settings)
    async with build_bot(settings, queue) as bot:
        # Not raced against a stop: login runs setup_hook (commands, the queue, recovery), and closing
        # the queue half-way through its start would break it. A stop asked for meanwhile waits for it.
        await bot.login(settings.discord_token.get_secret_value())
        settle_after_start()
        # The load above may have taken minutes: discord.py retries a gateway only once it reached it.
        await _unless_stopped(reach_gateway(settings.discord_gateway_url), stopping)
        if stopping.is_set():
            log.info("shutdown requested before Discord's gateway could be reached")
            await bot.close()
            return
        runner = asyncio.create_task(bot.connect())
        stopper = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("shutdown requested; finishing the running job and saving the queue")
            await bot.close()
        stopper.cancel()
        await runner


async def _unless_stopped(work: Coroutine[Any, Any, T], stopping: asyncio.Event) -> T | None:
    """`work`'s result, or None (and `work` cancelled) if `stopping` is set first."""
    task = asyncio.create_task(work)
    stopper = asyncio.create_task(stopping.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return None


async def _check_queue_url(settings: Settings) -> None:
    """With QUEUE_URL set, Redis must answer, take its credentials and never evict keys before the bot goes
    on; `StartupCheckFailed` says why not (a Redis that will not tell its eviction policy is a warning)."""
    if settings.queue_url is None:
        return
    from generation.queue.redis.startup import check_redis

    problem = await check_redis(settings.queue_url.get_secret_value())
    if problem is None:
        return
    if not problem.trouble.fatal:
        log.warning("%s", problem.line())
        return
    raise StartupCheckFailed([StartupProblem("QUEUE_URL", f"{problem.message.rstrip('.')}.", problem.fix, fatal=True)])
