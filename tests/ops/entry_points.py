"""Running the real entry points (`python -m bot`, `python -m generation`) as an operator would.

Each runs in a folder of the test's own (its `.env`, its database), with none of the settings of the
machine running the tests, and under `-X importtime`, so a test can also say what the process did not
load (torch, diffusers) before it answered.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings
from tests.patience import PATIENCE_S

ROOT = Path(__file__).resolve().parents[2]
# Shaped like a real bot token (base64 user id . timestamp . HMAC); assembled so scanners leave it be.
TOKEN = ".".join(["MTA4NzY1NDMyMTA5ODc2NTQzMg", "GaBcDe", "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"])


def clean_environment(**variables: str) -> dict[str, str]:
    """This environment less every setting and HF_* variable, plus `variables`; the code under test first
    on the path (the shared virtual environment may hold another checkout's editable install)."""
    names = {name.upper() for name in Settings.model_fields}
    kept = {key: value for key, value in os.environ.items() if key not in names and not key.startswith("HF_")}
    return kept | {"PYTHONPATH": str(ROOT)} | variables


@dataclass(frozen=True)
class Finished:
    """How a process ended: its status, what it printed, and which top-level packages it imported."""

    status: int
    stdout: str
    stderr_lines: list[str]
    imported: frozenset[str]

    @property
    def stderr(self) -> str:
        """stderr as the user saw it (the `-X importtime` lines left out)."""
        return "".join(f"{line}\n" for line in self.stderr_lines)


def finished(status: int, stdout: str, stderr: str) -> Finished:
    """Split `-X importtime`'s lines (`import time: self | cumulative | name`) from what the user saw."""
    lines = stderr.splitlines()
    timings = [line for line in lines if line.startswith("import time:")]
    imported = frozenset(line.rsplit("|", 1)[1].strip().split(".")[0] for line in timings[1:])
    return Finished(status, stdout, [line for line in lines if not line.startswith("import time:")], imported)


def run_module(module: str, *args: str, cwd: Path, env: dict[str, str], timeout: float = 2 * PATIENCE_S) -> Finished:
    """Run `python -m module args...` to its end."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return finished(done.returncode, done.stdout, done.stderr)


async def run_module_async(module: str, *args: str, cwd: Path, env: dict[str, str]) -> Finished:
    """`run_module` without blocking the event loop (the Discord emulator serves the process meanwhile)."""
    process = await start_module(module, *args, cwd=cwd, env=env)
    stdout, stderr = await finish(process, within=2 * PATIENCE_S)
    assert process.returncode is not None
    return finished(process.returncode, stdout.decode(), stderr.decode())


async def start_module(module: str, *args: str, cwd: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    """Start `python -m module args...` with its stdout and stderr piped, and leave it running."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-X", "importtime", "-m", module, *args,
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


async def read_until(process: asyncio.subprocess.Process, text: str) -> list[str]:
    """The process' stderr lines up to the first that holds `text`; fails if it ends or hangs first."""
    assert process.stderr is not None
    lines: list[str] = []
    async with asyncio.timeout(2 * PATIENCE_S):  # the process starts Python and may import torch first
        while not lines or text not in lines[-1]:
            line = (await process.stderr.readline()).decode()
            if not line:
                raise AssertionError(f"the process ended before logging {text!r}:\n{''.join(lines)}")
            lines.append(line)
    return lines


async def finish(process: asyncio.subprocess.Process, within: float = PATIENCE_S) -> tuple[bytes, bytes]:
    """The rest of the process' stdout and stderr once it has exited; killed, failing the test, if it
    outlives `within` (its pipes drained either way: Python 3.11's wait() also waits for them)."""
    try:
        async with asyncio.timeout(within):
            return await process.communicate()
    except TimeoutError:
        process.kill()
        await process.communicate()
        raise AssertionError(f"the process did not exit within {within:g} s") from None
