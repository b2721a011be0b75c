"""The event loop the bot runs on: uvloop where it is installed, asyncio's own otherwise.

uvloop (libuv under the asyncio API) does the loop's own work (polling, timers, callbacks, socket
reads and writes) in C: under a burst of interactions that is a good part of the bot's CPU, and the
3-second deadline is met or missed on that CPU. It is a dependency wherever it builds (not Windows);
where it cannot be imported the bot runs as before on asyncio's loop, and the log says which.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory() -> LoopFactory:
    """uvloop's `new_event_loop` when uvloop can be imported, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """`uvloop.Loop` or `asyncio.unix_events._UnixSelectorEventLoop`: what the log says runs."""
    kind = type(loop)
    return f"{kind.__module__}.{kind.__qualname__}"


def run_on_best_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to completion on a new loop from `loop_factory()`, as `asyncio.run` does.

    `bot.startup.run.main` logs which loop it runs on once Discord has been checked (a start-up
    mistake stays the one line it is)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(work)
