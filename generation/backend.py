"""Builds the queue the bot talks to, with the GPU work in a child process of its own."""

from __future__ import annotations

import functools

from generation.config import EngineSettings
from generation.process_generator import ProcessGenerator
from generation.protocol import VideoGenerator
from generation.queue.interface import JobQueue
from generation.queue.settings import QueueSettings


def diffusers_generator(engine: EngineSettings) -> VideoGenerator:
    """The real engine; imports torch, so it is built where it runs: in the GPU process."""
    from generation.generator import DiffusersGenerator

    return DiffusersGenerator(engine)


def create_local_queue(engine: EngineSettings, queue: QueueSettings) -> JobQueue:
    """An in-process queue whose single worker drives this machine's GPU through a child process.

    The pipeline's Python side runs there, so it never holds the event loop's GIL (see
    `generation.process_generator`); this process imports no torch.
    """
    from generation.queue.local import LocalJobQueue

    generator = ProcessGenerator(functools.partial(diffusers_generator, engine), max_batch_size=engine.max_batch_size)
    return LocalJobQueue(queue, engine, generator)
