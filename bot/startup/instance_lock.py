"""One bot per OUTPUT_DIR: a second one on the same folder stops at start-up instead of answering too.

Two bots on one token both answer every command, and on one folder they also share one job database
and sweep each other's videos. Compose's profiles keep a fresh `up` to one bot, but a one-machine bot
still running when the scale-out profile starts (both mount the `data` volume) would make two. The
running bot holds an exclusive `flock` on `OUTPUT_DIR/.videobot.lock` for its whole life; the kernel
lets it go however the process ends (kill -9 included), so nothing stale is left to clean up.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO, Final

from bot.startup.problems import StartupProblem

LOCK_NAME: Final = ".videobot.lock"


class InstanceLock:
    """The held lock; keep it referenced for as long as the bot runs (closing the file releases it)."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    def release(self) -> None:
        """Let another bot take the folder."""
        self._handle.close()


def hold_output_dir(folder: Path) -> InstanceLock | StartupProblem:
    """Take `folder`'s lock, or the problem naming the bot (pid and host) that holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = (folder / LOCK_NAME).open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        message = (
            f"another videobot ({holder}) is already running on OUTPUT_DIR={folder}: two bots would both answer "
            "every command and share one job database."
        )
        fix = (
            "stop the other bot first (moving a Docker host to the scale-out profile: `docker compose stop bot`), "
            "or give this one its own OUTPUT_DIR and DATABASE_PATH"
        )
        return StartupProblem("OUTPUT_DIR", message, fix, fatal=True)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
    handle.flush()
    return InstanceLock(handle)
