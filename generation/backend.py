"""Builds the queue the bot talks to, importing the GPU stack only when a local worker is wanted."""

from __future__ import annotations

from generation.config import EngineSettings
from generation.queue.interface import JobQueue
from generation.queue.settings import QueueSettings


def create_local_queue(engine: EngineSettings, queue: QueueSettings) -> JobQueue:
    """An in-process queue whose single worker owns this machine's GPU (torch is imported here)."""
    from generation.generator import DiffusersGenerator
    from generation.queue.local import LocalJobQueue

    return LocalJobQueue(queue, engine, DiffusersGenerator(engine))
