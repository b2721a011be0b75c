"""Builds the queue the bot talks to: in this process with the GPU work in a child process of its own,
or, with `QUEUE_URL` set, in Redis in front of GPU workers elsewhere (`videobot-worker`).

Each backend is imported only when chosen: the Redis one loads no GPU code at all.
"""

from __future__ import annotations

import functools

from generation.config import EngineSettings
from generation.protocol import VideoGenerator
from generation.queue.interface import JobQueue
from generation.queue.settings import QueueSettings


def diffusers_generator(engine: EngineSettings) -> VideoGenerator:
    """The real engine; imports torch, so it is built where it runs: in the GPU process."""
    from generation.generator import DiffusersGenerator

    return DiffusersGenerator(engine)


def create_queue(engine: EngineSettings, queue: QueueSettings) -> JobQueue:
    """The queue `queue.queue_url` chooses: Redis when it is set, else the in-process one."""
    if queue.queue_url is not None:
        return create_redis_queue(engine, queue)
    return create_local_queue(engine, queue)


def create_local_queue(engine: EngineSettings, queue: QueueSettings) -> JobQueue:
    """An in-process queue whose single worker drives this machine's GPU through a child process.

    The pipeline's Python side runs there, so it never holds the event loop's GIL (see
    `generation.process_generator`); this process imports no torch.
    """
    from generation.process_generator import ProcessGenerator
    from generation.queue.local import LocalJobQueue

    generator = ProcessGenerator(functools.partial(diffusers_generator, engine), max_batch_size=engine.max_batch_size)
    return LocalJobQueue(queue, engine, generator)


def create_redis_queue(engine: EngineSettings, queue: QueueSettings) -> JobQueue:
    """The bot's side of the queue in Redis at `queue.queue_url`: no worker here; videos land in `output_dir`."""
    from generation.queue.redis.queue import RedisJobQueue
    from generation.queue.redis.verbs import QueueVerbs, connect

    assert queue.queue_url is not None
    url = queue.queue_url.get_secret_value()
    commands = QueueVerbs(connect(url), lease_s=queue.queue_lease_s)
    return RedisJobQueue(
        queue,
        commands,
        connect(url, decode=False),
        output_dir=engine.output_dir,
        origin=queue.queue_origin,
        profile=engine.profile,
    )
