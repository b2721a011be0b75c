"""The running bot: the queue and the bot, wired once and shut down cleanly (`bot.command` starts it)."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.client import VideoBot
from bot.endpoints import point_discord_at
from bot.settings import Settings
from generation.backend import create_local_queue
from generation.queue.interface import JobQueue

log = logging.getLogger(__name__)


async def main(settings: Settings, queue: JobQueue | None = None) -> None:
    """Run the bot until SIGINT/SIGTERM, then stop taking jobs and let the running one finish.

    `queue` defaults to the in-process queue on this machine's GPU (benchmarks hand in their own).
    """
    point_discord_at(settings.discord_api_url, settings.discord_gateway_url)
    if queue is None:
        queue = create_local_queue(settings, settings)
    async with VideoBot(settings, queue) as bot:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        runner = asyncio.create_task(bot.start(settings.discord_token.get_secret_value()))
        stopper = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("shutdown requested; finishing the running job and saving the queue")
            await bot.close()
        stopper.cancel()
        await runner
