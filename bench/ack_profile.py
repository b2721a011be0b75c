"""Where the bot's CPU goes during a burst: py-spy on the bot process, summarised as text.

`bench.ack_bench --profile DIR` records each burst with `py-spy record --format raw` (collapsed
stacks, one `frame;frame;… count` line per distinct stack) from just before the first interaction
until every status message showed, and prints the top frames: by self time (the frame on top of the stack:
where the CPU is spent) and by total time (the frame anywhere in the stack: what the time is spent
for). Each as a share of all samples. The raw file stays in DIR for a flame graph
(`py-spy` or speedscope read it); the text is what goes into docs/performance.md.

    python -m bench.ack_profile FILE [--top 15]     (summarise a raw file recorded earlier)
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import signal
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

# Stacks whose top frame is one of these are a thread waiting, not spending CPU, should py-spy's idle
# detection miss one (it does with --nonblocking): they are left out of the shares.
_WAITING = (
    "select (selectors.py)",
    "_worker (concurrent/futures/thread.py)",
    "wait (threading.py)",
    "dequeue (logging/handlers.py)",
    "_run_safe_shutdown_loop (pycares/__init__.py)",
)
# "function (path/to/module.py:123)": the line number is dropped so a function is counted once.
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


@dataclass(frozen=True)
class Profiling:
    """Where `bench.ack_bench --profile` writes its raw files, and whether it samples only the GIL's holder."""

    folder: Path
    gil: bool = False


@dataclass(frozen=True)
class FrameShare:
    """One function's share of the samples."""

    frame: str
    self_pct: float
    total_pct: float


@asynccontextmanager
async def py_spy(pid: int, out: Path, rate: int = 200, *, gil: bool = False) -> AsyncIterator[None]:
    """Sample `pid` with py-spy for the duration. Each sample pauses the bot for a moment (py-spy's
    default): that is how py-spy tells a thread waiting in a system call from one running, so idle
    waits (epoll, a queue's get) stay out of the shares. A thread waiting for the GIL still counts
    as running, at whatever line it waits; with `gil`, only the thread holding the GIL is sampled: the
    shares are then of the Python work itself (system calls made without the GIL are left out)."""
    executable = shutil.which("py-spy")
    if executable is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    process = await asyncio.create_subprocess_exec(
        executable,
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--rate",
        str(rate),
        "--output",
        str(out),
        *(["--gil"] if gil else []),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        await process.wait()


def short(frame: str) -> str:
    """`function (module.py)` with the path cut to what tells the module apart."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    parts = Path(match["file"]).parts
    for anchor in ("site-packages", "lib", "bot", "generation", "bench"):
        if anchor in parts:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            parts = parts[index + 1 :] if anchor in ("site-packages", "lib") else parts[index:]
            break
    return f"{match['function']} ({'/'.join(parts[-3:])})"


def summarise(raw: str, top: int = 15) -> tuple[int, list[FrameShare], list[FrameShare]]:
    """Samples in all, the `top` frames by self share, and the `top` by total share."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short(frame) for frame in stack.split(";") if frame]
        if not frames or frames[-1].endswith(_WAITING):
            continue
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if samples == 0:
        return 0, [], []

    def share(frame: str) -> FrameShare:
        return FrameShare(frame, 100 * own[frame] / samples, 100 * total[frame] / samples)

    return (
        samples,
        [share(frame) for frame, _ in own.most_common(top)],
        [share(frame) for frame, _ in total.most_common(top)],
    )


def print_summary(path: Path, top: int = 15) -> None:
    """The top frames of one raw file, self and total, as text."""
    samples, by_self, by_total = summarise(path.read_text(errors="replace"), top)
    print(f"{path.name}: {samples} samples")
    print("  self %  total %  frame (by self)")
    for each in by_self:
        print(f"  {each.self_pct:6.1f}  {each.total_pct:7.1f}  {each.frame}")
    print("  total %  frame (by total)")
    for each in by_total:
        print(f"  {each.total_pct:7.1f}  {each.frame}")


def entry(argv: Sequence[str] | None = None) -> None:
    """`python -m bench.ack_profile FILE`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    for path in args.files:
        print_summary(path, args.top)


if __name__ == "__main__":
    entry()
