"""One bot per OUTPUT_DIR: the second bot started on a folder stops with one line (a one-machine bot left
running when the scale-out profile starts would otherwise answer beside the scaled-out one)."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from bot.startup.instance_lock import hold_output_dir
from bot.startup.problems import EXIT_CONFIG, StartupProblem
from tests.ops.entry_points import TOKEN, clean_environment, finish, read_until, run_module_async, start_module


def test_a_second_hold_on_the_folder_is_refused_naming_the_holder(tmp_path: Path) -> None:
    first = hold_output_dir(tmp_path)

    second = hold_output_dir(tmp_path)

    assert not isinstance(first, StartupProblem)
    assert isinstance(second, StartupProblem)
    assert second.setting == "OUTPUT_DIR"
    assert second.message.startswith(
        f"another videobot (pid {os.getpid()} on {socket.gethostname()}) is already running on OUTPUT_DIR={tmp_path}"
    )
    first.release()


def test_a_released_folder_can_be_held_again(tmp_path: Path) -> None:
    first = hold_output_dir(tmp_path)
    assert not isinstance(first, StartupProblem)
    first.release()

    again = hold_output_dir(tmp_path)

    assert not isinstance(again, StartupProblem)
    again.release()


async def test_a_second_bot_on_a_running_bots_folder_exits_78_with_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]  # closed once the block ends: Discord out of reach, so the bot waits
    env = clean_environment(DISCORD_TOKEN=TOKEN, DISCORD_API_URL=f"http://127.0.0.1:{port}/api/v10", DEVICE="cpu")
    running = await start_module("bot", cwd=tmp_path, env=env)
    try:
        await read_until(running, "Cannot reach Discord")

        second = await run_module_async("bot", cwd=tmp_path, env=env)
    finally:
        running.send_signal(signal.SIGTERM)
        await finish(running)

    assert second.status == EXIT_CONFIG
    (line,) = second.stderr_lines
    assert line.startswith(f"error: another videobot (pid {running.pid} on ")
    assert "Fix: stop the other bot first" in line
