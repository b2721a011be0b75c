"""The bot's event loop: uvloop when it can be imported, asyncio's own when not, and the name the log gives it."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from bot.startup.event_loop import loop_factory, loop_name, run_on_best_loop


async def running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_the_bot_runs_on_uvloop_when_it_is_installed() -> None:
    loop = run_on_best_loop(running_loop())

    assert isinstance(loop, uvloop.Loop)
    assert loop_name(loop) == "uvloop.Loop"


def test_without_uvloop_the_bot_runs_on_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what `import uvloop` meets where it is not installed

    loop = run_on_best_loop(running_loop())

    assert loop_factory() is asyncio.new_event_loop
    assert not isinstance(loop, uvloop.Loop)
    assert loop_name(loop).startswith("asyncio.")
