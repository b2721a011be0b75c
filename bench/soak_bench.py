"""Soak benchmark: does the bot's time per video stay flat over thousands of videos?

    python -m bench.soak_bench [--videos 10000] [--members 50] [--waiting 20] [--size 64]
                               [--every 1000] [--torch-threads 1] [--out FILE] [--log FILE]

The bot runs as its own process (`python -m bot`, the real entry point: the real queue, the GPU process,
the tiny random-weight pipeline of `tests.fixtures.tiny_pipeline` on the CPU at `--size`², 1 step,
2 frames); this process is "Discord" (the emulator of `tests.discord_emulator`). `--members` members
keep `--waiting` `/video` requests open at all times: each time a video arrives, the next member asks
for another, until `--videos` have arrived. Per `--every` videos it prints:

- `wall s/video`: wall time per video delivered (the bot's throughput, as a user sees it);
- `run s/video`: the mean of the queue's own `run_s` (from the worker taking the job to its end) of
  the jobs that succeeded in the block, read from the bot's log;
- `run s p50`: their median, which a burst of other work on a shared host moves less than the mean;
- the CPU seconds per video spent by the bot, the GPU process and this process (the emulator), which
  tell a process doing more work per video from one that is only waiting for a CPU;
- `machine ms`: how long a fixed piece of pure Python takes here now (best of three), a yardstick for
  how much other work on the host slowed every process in that block;
- the RSS of the bot and of the GPU process at the block's end.

Then the ratio of the last block to the first for each. torch runs on `--torch-threads` threads (1 by
default: the tiny model gains nothing from more, and OpenMP's spinning workers turn every other
process on a small host into noise). Prints figures only; no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import count
from pathlib import Path

from bot.settings import Settings
from tests.discord_emulator import DiscordEmulator, Interaction
from tests.discord_emulator.models import Channel, User
from tests.fixtures.tiny_pipeline import build_tiny_pipeline

_SUCCEEDED = re.compile(r"job succeeded job_id=\S+ .*run_s=([0-9.]+)")
_VIDEO_TIMEOUT_S = 600.0
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
_MACHINE_WORK = 200_000
_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Block:
    """Figures for one block of `--every` videos."""

    videos: int
    wall_s_per_video: float
    run_s_per_video: float | None
    run_s_p50: float | None
    bot_cpu_s_per_video: float
    gpu_cpu_s_per_video: float
    driver_cpu_s_per_video: float
    machine_ms: float
    bot_rss_mib: float
    gpu_rss_mib: float


@dataclass(frozen=True)
class Soak:
    """A whole run: its blocks, requests that got no video in time, and Discord rules the bot broke."""

    blocks: tuple[Block, ...]
    lost: int
    violations: int


@dataclass
class _Progress:
    """What the driver and the log reader have counted so far."""

    delivered: int = 0
    lost: int = 0
    run_s: list[float] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def until(self, delivered: int) -> None:
        """Return once `delivered` videos have arrived."""
        while self.delivered < delivered:
            self.arrived.clear()
            await self.arrived.wait()


class _Processes:
    """CPU time and RSS of the bot, its GPU process and this process, read from Linux's /proc."""

    def __init__(self, bot_pid: int) -> None:
        self._bot = bot_pid
        self._gpu: int | None = None

    def gpu(self) -> int:
        """The pid of the bot's GPU process: its spawned child that is not multiprocessing's resource tracker."""
        if self._gpu is None or not Path(f"/proc/{self._gpu}").exists():
            for child in _children(self._bot):
                command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                if b"spawn_main" in command:
                    self._gpu = child
        if self._gpu is None:
            raise RuntimeError("the bot has no GPU process")
        return self._gpu

    def cpu_s(self) -> tuple[float, float, float]:
        """CPU seconds (user + system) so far of the bot, the GPU process and this process."""
        return _cpu_s(self._bot), _cpu_s(self.gpu()), time.process_time()

    def rss_mib(self) -> tuple[float, float]:
        """Resident memory of the bot and of the GPU process, in MiB."""
        return _rss_mib(self._bot), _rss_mib(self.gpu())


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [int(child) for task in tasks for child in (task / "children").read_text().split()]


def _cpu_s(pid: int) -> float:
    # Fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the command name's closing bracket.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"process {pid} reports no VmRSS")


def machine_ms() -> float:
    """Seconds for a fixed piece of pure Python, best of three: how fast this machine runs code right now.

    Other work on the host (a shared machine) slows every process alike; a block whose figures rise with
    this one's was slowed from outside, not by the bot's own age.
    """
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        sum(n * n for n in range(_MACHINE_WORK))
        best = min(best, time.perf_counter() - started)
    return best


def _delivered(interaction: Interaction) -> bool:
    message = interaction.original
    return message is not None and bool(message.attachments)


async def _read_log(stream: asyncio.StreamReader, log_path: Path, progress: _Progress) -> None:
    """Copy the bot's log to `log_path`, noting each succeeded job's `run_s`."""
    with log_path.open("wb") as log_file:
        while line := await stream.readline():
            log_file.write(line)
            match = _SUCCEEDED.search(line.decode(errors="replace"))
            if match is not None:
                progress.run_s.append(float(match.group(1)))


async def soak(args: argparse.Namespace, model: Path, workdir: Path) -> Soak:
    """Start the emulator and the bot on `model`, keep `args.waiting` requests open until `args.videos` arrived."""
    emulator = DiscordEmulator()
    emulator.response_deadline = None  # a late answer is measured here, not refused
    await emulator.start()
    guild = emulator.add_guild("soak")
    # Several channels, as in a real community, so Discord's per-channel limits are not what is measured.
    channels = [emulator.add_channel(guild, f"videos-{n}") for n in range(max(1, args.waiting // 2))]
    members = [emulator.add_user(f"member{n}") for n in range(args.members)]
    for member in members:
        emulator.add_member(guild, member)
    env = {
        # None of the machine's own bot settings (a QUEUE_URL would send the videos to Redis).
        **{name: value for name, value in os.environ.items() if name.lower() not in Settings.model_fields},
        "PYTHONPATH": str(_ROOT),
        "DISCORD_TOKEN": emulator.bot_token,
        "DISCORD_API_URL": emulator.api_url,
        "DISCORD_GATEWAY_URL": emulator.gateway_url,
        "DISCORD_GUILD_IDS": str(guild.id),
        "DATABASE_PATH": str(workdir / "soak.sqlite3"),
        "OUTPUT_DIR": str(workdir / "outputs"),
        "MODEL_ID": str(model),
        "MODEL_VARIANT": "",
        "DEVICE": "cpu",
        "TORCH_DTYPE": "float32",
        "OFFLOAD": "none",
        "QUEUE_MAX_JOBS": str(args.waiting + 10),
        "QUEUE_MAX_PER_USER": "3",
        "SHUTDOWN_GRACE_S": "0",
        "VIDEO_SIZES": f"soak:{args.size}x{args.size}",
        "LOG_LEVEL": "INFO",
        "OMP_NUM_THREADS": str(args.torch_threads),
    }
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=workdir, env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert bot.stderr is not None
    progress = _Progress()
    reader = asyncio.create_task(_read_log(bot.stderr, args.log or workdir / "bot.log", progress))
    try:
        await emulator.wait_until_ready(timeout=300)
        await emulator.wait_for(lambda: bool(emulator.commands(guild)), timeout=300)
        return await _drive(emulator, args, channels, members, _Processes(bot.pid), progress)
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGTERM)
        await bot.wait()
        await reader
        await emulator.stop()


async def _drive(
    emulator: DiscordEmulator,
    args: argparse.Namespace,
    channels: Sequence[Channel],
    members: Sequence[User],
    processes: _Processes,
    progress: _Progress,
) -> Soak:
    numbers = count()
    stop = asyncio.Event()

    async def slot() -> None:
        # One open request at a time: ask, wait for the video, pass the turn to the next member.
        while not stop.is_set():
            n = next(numbers)
            member, channel = members[n % len(members)], channels[n % len(channels)]
            prompt = f"soak video {n} -steps 1 -frames 2"
            interaction = await emulator.invoke_slash(member, channel, "video", {"prompt": prompt})
            try:
                await emulator.wait_for(lambda: _delivered(interaction), timeout=_VIDEO_TIMEOUT_S)  # noqa: B023
            except TimeoutError:
                progress.lost += 1
            else:
                progress.delivered += 1
            progress.arrived.set()

    blocks: list[Block] = []
    slots = [asyncio.create_task(slot()) for _ in range(args.waiting)]
    try:
        # The first video loads the model; the blocks count from the moment it arrived.
        await progress.until(1)
        first = done = progress.delivered
        runs, started, cpu = len(progress.run_s), time.monotonic(), processes.cpu_s()
        while done < first + args.videos:
            target = min(first + args.videos, done + args.every)
            await progress.until(target)
            now, cpu_now = time.monotonic(), processes.cpu_s()
            videos = progress.delivered - done
            block_runs = progress.run_s[runs:]
            bot_rss, gpu_rss = processes.rss_mib()
            block = Block(
                videos=progress.delivered - first,
                wall_s_per_video=round((now - started) / videos, 4),
                run_s_per_video=round(statistics.mean(block_runs), 4) if block_runs else None,
                run_s_p50=round(statistics.median(block_runs), 4) if block_runs else None,
                bot_cpu_s_per_video=round((cpu_now[0] - cpu[0]) / videos, 4),
                gpu_cpu_s_per_video=round((cpu_now[1] - cpu[1]) / videos, 4),
                driver_cpu_s_per_video=round((cpu_now[2] - cpu[2]) / videos, 4),
                machine_ms=round(machine_ms() * 1000, 2),
                bot_rss_mib=round(bot_rss, 1),
                gpu_rss_mib=round(gpu_rss, 1),
            )
            blocks.append(block)
            print_row(block)
            done, runs, started, cpu = progress.delivered, len(progress.run_s), now, cpu_now
    finally:
        stop.set()
        for task in slots:
            task.cancel()
        await asyncio.gather(*slots, return_exceptions=True)
    return Soak(tuple(blocks), progress.lost, len(emulator.violations))


_COLUMNS = (
    ("videos", "videos", 8),
    ("wall_s_per_video", "wall s/video", 14),
    ("run_s_per_video", "run s/video", 13),
    ("run_s_p50", "run s p50", 11),
    ("bot_cpu_s_per_video", "bot cpu s", 11),
    ("gpu_cpu_s_per_video", "gpu cpu s", 11),
    ("driver_cpu_s_per_video", "emu cpu s", 11),
    ("machine_ms", "machine ms", 12),
    ("bot_rss_mib", "bot MiB", 9),
    ("gpu_rss_mib", "gpu MiB", 9),
)


def print_header() -> None:
    """The column titles."""
    print("".join(f"{title:>{width}}" for _, title, width in _COLUMNS), flush=True)


def print_row(block: Block) -> None:
    """One block's figures."""
    values = asdict(block)
    print(
        "".join(f"{'-' if values[name] is None else values[name]:>{width}}" for name, _, width in _COLUMNS), flush=True
    )


def print_ratios(blocks: Sequence[Block]) -> None:
    """Last block over first block, for every figure."""
    first, last = asdict(blocks[0]), asdict(blocks[-1])
    cells = [f"{'last/first':>8}"]
    for name, _, width in _COLUMNS[1:]:
        ratio = "-" if not first[name] or last[name] is None else f"{last[name] / first[name]:.2f}"
        cells.append(f"{ratio:>{width}}")
    print("".join(cells), flush=True)


def entry(argv: Sequence[str] | None = None) -> Soak:
    """`python -m bench.soak_bench`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=10_000, help="videos to deliver after the first (warm-up) one")
    parser.add_argument("--members", type=int, default=50, help="members taking turns to ask")
    parser.add_argument("--waiting", type=int, default=20, help="requests kept open at all times")
    parser.add_argument("--size", type=int, default=64, help="width and height of every video")
    parser.add_argument("--every", type=int, default=1000, help="videos per printed block")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the blocks as JSON")
    parser.add_argument("--log", type=Path, help="keep the bot's log in this file")
    args = parser.parse_args(argv)
    print_header()
    with tempfile.TemporaryDirectory(prefix="soak-bench-") as folder:
        model = build_tiny_pipeline(Path(folder) / "tiny-model")
        result = asyncio.run(soak(args, model, Path(folder)))
    if result.blocks:
        print_ratios(result.blocks)
    if result.lost or result.violations:
        print(f"note: {result.lost} requests got no video within {_VIDEO_TIMEOUT_S:g} s; "
              f"{result.violations} Discord rules broken")  # fmt: skip
    if args.out is not None:
        args.out.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


def _interrupt(signum: int, frame: object) -> None:
    # As Ctrl-C: asyncio.run cancels the soak, whose cleanup stops the bot and its GPU process.
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        entry()
