"""Acknowledgement benchmark: how fast a burst of `/video` requests is first answered, under load.

    python -m bench.ack_bench [--bursts 100 500 1000] [--load none stress] [--gpu thread process]
                              [--runs 1] [--step-s 0.05] [--quiet-s 3] [--profile DIR [--gil]] [--out FILE]

The bot runs as its own process (`bench.ack_bot`: the real bot and queue, a generator that spins in
Python for `--step-s` per step, holding the GIL like a real pipeline's Python side), so the Discord
emulator's own work (it validates every request and response against Discord's OpenAPI spec) runs
in this process, not on the bot's event loop. Discord's servers do not share the bot's CPU, so this
process raises its own priority when it may (as root) and the bot and the load run at the normal
one. `--gpu` says where the generator runs: on the queue's GPU thread inside the bot's process
(`thread`, the baseline: its GIL is the event loop's) or in the GPU child process as in production
(`process`). For each burst size a fresh bot is started, one long job is set running so the GPU
is busy, and then the burst's interactions are dispatched evenly over one second, each from a
different member. Reported per burst:

- first-response latency (from the interaction's creation to the arrival of the bot's first
  callback, on the emulator's clock) p50 / p99 / max, and how many took longer than 2.5 s and 3 s;
- when the status message itself showed (a deferral's "thinking…" filled in, else the first
  response): p99 (`shown p99`), the wait a member has before seeing their place in line;
- how the first responses went out (a message with the status, a deferral, an ephemeral refusal);
- the bot's event-loop lag p99 while a generation ran (a 20 ms timer's lateness, measured inside
  the bot process): during the burst (`lag p99`: from the first interaction until every status
  showed) and in the `--quiet-s` seconds before it, a video generating and nothing else asked
  (`quiet lag`); and the longest and the sum of the garbage collector's pauses in the burst (`gc max`,
  `gc sum`);
- the bot's CPU per interaction: the CPU time (user + system, from /proc) its process spent from
  just before the first interaction until the last was answered, divided by the interactions
  (`cpu ms/i`), and the same until every status message showed (`cpu/i shown`: a deferral moves the
  rest of an answer's work past the first figure's window, so this one counts all of it). Unlike
  the latencies, it hardly moves with other work on the host, so it is the figure to compare across
  commits on a shared machine (its GPU child process is not counted: production runs it on a GPU).

`--runs N` repeats every burst N times, a fresh bot each time. `--profile DIR` also samples the bot
process with py-spy during each burst and prints its top frames (`bench.ack_profile`); with `--gil`
only the thread holding the GIL is sampled (the Python work itself, without time spent waiting for
the GIL at whatever line a thread waits).

`--load stress` runs `stress-ng --cpu 2` (Debian's stress-ng) for the whole measurement, as a host
whose CPU is busy with other work. The emulator does not enforce the 3-second deadline here, so late
answers are measured rather than refused. Prints figures only; no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.ack_profile import Profiling, print_summary, py_spy
from tests.discord_emulator import DiscordEmulator, Interaction

EPHEMERAL = 1 << 6
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5


@dataclass(frozen=True)
class BurstResult:
    """Figures for one burst."""

    load: str
    gpu: str
    burst: int
    dispatch_span_s: float
    answered: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    over_2_5_s: int
    over_3_s: int
    messages: int
    deferrals: int
    refusals: int
    loop_lag_p99_ms: float | None
    quiet_lag_p99_ms: float | None
    gc_max_ms: float
    gc_sum_ms: float
    violations: int
    cpu_ms_per_interaction: float
    shown_p99_ms: float
    cpu_ms_per_interaction_shown: float


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def first_response_kind(interaction: Interaction) -> str:
    """ "message", "deferral" or "refusal" for the interaction's first accepted callback."""
    callback = interaction.callbacks[0]
    flags = int((callback.data or {}).get("flags") or 0)
    if callback.type == DEFERRED_CHANNEL_MESSAGE:
        return "deferral"
    if flags & EPHEMERAL:
        return "refusal"
    return "message"


@contextlib.contextmanager
def cpu_load(kind: str) -> Iterator[None]:
    """`stress-ng --cpu 2` for the duration, when `kind` is "stress"."""
    if kind == "none":
        yield
        return
    if shutil.which("stress-ng") is None:
        raise SystemExit("--load stress needs stress-ng (apt-get install stress-ng)")
    # At the bot's priority: this process raised its own, and a child would inherit that.
    process = subprocess.Popen(["stress-ng", "--cpu", "2", "--quiet"], preexec_fn=_normal_priority)
    try:
        yield
    finally:
        process.terminate()
        process.wait()


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds the process `pid` has used so far (its own threads, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # After the command name: state is field 3 of stat(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_burst(
    size: int,
    load: str,
    gpu: str,
    step_s: float,
    workdir: Path,
    profile: Profiling | None = None,
    quiet_s: float = 3.0,
) -> BurstResult:
    """Start a bot, keep its GPU thread busy, dispatch `size` interactions in one second, measure."""
    emulator = DiscordEmulator()
    emulator.response_deadline = None  # measure late answers instead of refusing them
    await emulator.start()
    guild = emulator.add_guild("bench")
    channel = emulator.add_channel(guild, "videos")
    users = [emulator.add_user(f"user{n}") for n in range(size + 1)]
    for user in users:
        emulator.add_member(guild, user)
    env = {
        **os.environ,
        "DISCORD_TOKEN": emulator.bot_token,
        "DISCORD_API_URL": emulator.api_url,
        "DISCORD_GATEWAY_URL": emulator.gateway_url,
        "DISCORD_GUILD_IDS": str(guild.id),
        "DATABASE_PATH": str(workdir / f"bench-{load}-{gpu}-{size}.sqlite3"),
        "OUTPUT_DIR": str(workdir / f"outputs-{load}-{gpu}-{size}"),
        "QUEUE_MAX_JOBS": str(size + 10),
        "QUEUE_MAX_PER_USER": "3",
        "SHUTDOWN_GRACE_S": "0",
        "VIDEO_SIZES": "tiny:64x64",
        "MAX_STEPS": "150",
        "BENCH_STEP_S": str(step_s),
        "BENCH_GPU": gpu,
        "LOG_LEVEL": "INFO",
    }
    log_path = workdir / f"bot-{load}-{gpu}-{size}.log"
    with log_path.open("w") as log_file:
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.ack_bot",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
            preexec_fn=_normal_priority,
        )
    try:
        await emulator.wait_until_ready(timeout=120)
        await emulator.wait_for(lambda: bool(emulator.commands(guild)), timeout=120)
        # A long job first, so every answer below is given while the GPU thread is busy.
        warm = await emulator.invoke_slash(users[-1], channel, "video", {"prompt": "keep busy -steps 150 -frames 2"})
        await warm.wait_for_response(timeout=120)
        await emulator.wait_for(lambda: "Generating" in _titles(warm), timeout=120)
        quiet_from = time.monotonic()
        await asyncio.sleep(quiet_s)  # a video generating and nothing asked: the loop's lag at rest
        burst_from = time.monotonic()
        async with contextlib.AsyncExitStack() as sampling:
            if profile is not None:
                raw = profile.folder / f"{load}-{gpu}-{size}-{bot.pid}.txt"
                await sampling.enter_async_context(py_spy(bot.pid, raw, gil=profile.gil))
            cpu_before = process_cpu_s(bot.pid)
            loop = asyncio.get_running_loop()
            start = loop.time() + 0.05
            sent: list[asyncio.Task[Interaction]] = []
            for n in range(size):
                await asyncio.sleep(max(0.0, start + n / size - loop.time()))
                prompt = f"burst {n} -steps 2 -frames 2"
                sent.append(asyncio.create_task(emulator.invoke_slash(users[n], channel, "video", {"prompt": prompt})))
            interactions = await asyncio.gather(*sent)
            span = max(i.created_at for i in interactions) - min(i.created_at for i in interactions)
            await emulator.wait_for(lambda: all(i.callbacks for i in interactions), timeout=600)
            cpu_s = process_cpu_s(bot.pid) - cpu_before
            await emulator.wait_for(lambda: all(_shown_at(i) is not None for i in interactions), timeout=600)
            cpu_shown_s = process_cpu_s(bot.pid) - cpu_before
            burst_to = time.monotonic()
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGTERM)
        out, _ = await bot.communicate()
        await emulator.stop()
    latencies = [(i.callbacks[0].at - i.created_at) for i in interactions]
    kinds = [first_response_kind(i) for i in interactions]
    report = _bot_report(out.decode())
    samples = report.get("loop_lag", [])
    pauses = [seconds for at, seconds in report.get("gc", []) if burst_from <= at <= burst_to]
    return BurstResult(
        load=load,
        gpu=gpu,
        burst=size,
        dispatch_span_s=round(span, 3),
        answered=len(latencies),
        p50_ms=round(statistics.median(latencies) * 1000, 1),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 1),
        max_ms=round(max(latencies) * 1000, 1),
        over_2_5_s=sum(latency > 2.5 for latency in latencies),
        over_3_s=sum(latency > 3.0 for latency in latencies),
        messages=kinds.count("message"),
        deferrals=kinds.count("deferral"),
        refusals=kinds.count("refusal"),
        loop_lag_p99_ms=_p99_ms([lag for at, lag in samples if burst_from <= at <= burst_to]),
        quiet_lag_p99_ms=_p99_ms([lag for at, lag in samples if quiet_from <= at < burst_from]),
        gc_max_ms=round(max(pauses, default=0.0) * 1000, 1),
        gc_sum_ms=round(sum(pauses) * 1000, 1),
        violations=len(emulator.violations),
        cpu_ms_per_interaction=round(cpu_s * 1000 / len(interactions), 3),
        shown_p99_ms=round(percentile([_shown_s(i) for i in interactions], 0.99) * 1000, 1),
        cpu_ms_per_interaction_shown=round(cpu_shown_s * 1000 / len(interactions), 3),
    )


def _shown_s(interaction: Interaction) -> float:
    """Seconds from the interaction's creation until its answer showed (0 if it never did)."""
    shown_at = _shown_at(interaction)
    return 0.0 if shown_at is None else shown_at - interaction.created_at


def _shown_at(interaction: Interaction) -> float | None:
    """When the interaction's answer showed to its member: a refusal's or status message's first showing."""
    message = interaction.original
    return None if message is None else message.shown_at


def _titles(interaction: Interaction) -> str:
    message = interaction.original
    return "" if message is None else " ".join(str(embed.get("title", "")) for embed in message.embeds)


def _normal_priority() -> None:
    os.setpriority(os.PRIO_PROCESS, 0, 0)


def _bot_report(stdout: str) -> dict[str, list[tuple[float, float]]]:
    """The bot's last JSON line: its (when, seconds late) lag samples and (when, seconds) collector pauses."""
    for line in reversed(stdout.splitlines()):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            report = json.loads(line)
            return {name: [(float(at), float(value)) for at, value in report[name]] for name in ("loop_lag", "gc")}
    return {}


def _p99_ms(lags: Sequence[float]) -> float | None:
    return None if len(lags) < 2 else round(percentile(lags, 0.99) * 1000, 1)


def print_table(results: Sequence[BurstResult]) -> None:
    """One row per burst."""
    header = (
        f"{'load':<7}{'gpu':<8}{'burst':>6}{'span s':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'>2.5s':>7}{'>3s':>5}"
        f"{'msg':>6}{'defer':>7}{'refuse':>8}{'lag p99':>9}{'quiet lag':>10}{'gc max':>8}{'gc sum':>8}{'viol':>6}"
        f"{'cpu ms/i':>10}{'shown p99':>11}{'cpu/i shown':>13}"
    )
    print(header)
    for r in results:
        lag = "-" if r.loop_lag_p99_ms is None else f"{r.loop_lag_p99_ms:.1f}"
        quiet = "-" if r.quiet_lag_p99_ms is None else f"{r.quiet_lag_p99_ms:.1f}"
        print(
            f"{r.load:<7}{r.gpu:<8}{r.burst:>6}{r.dispatch_span_s:>8.2f}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}{r.max_ms:>9.1f}"
            f"{r.over_2_5_s:>7}{r.over_3_s:>5}{r.messages:>6}{r.deferrals:>7}{r.refusals:>8}{lag:>9}{quiet:>10}"
            f"{r.gc_max_ms:>8.1f}{r.gc_sum_ms:>8.1f}{r.violations:>6}"
            f"{r.cpu_ms_per_interaction:>10.3f}{r.shown_p99_ms:>11.1f}{r.cpu_ms_per_interaction_shown:>13.3f}"
        )


async def run_all(
    bursts: Sequence[int],
    loads: Sequence[str],
    gpus: Sequence[str],
    step_s: float,
    runs: int = 1,
    profile: Profiling | None = None,
    quiet_s: float = 3.0,
) -> list[BurstResult]:
    """Every burst size under every load condition and GPU layout, `runs` times, a fresh bot each time."""
    results = []
    with tempfile.TemporaryDirectory(prefix="ack-bench-") as folder:
        for load in loads:
            with cpu_load(load):
                for gpu in gpus:
                    for size in bursts:
                        for _ in range(runs):
                            # A folder per run: a second run on the first one's database would recover its jobs.
                            workdir = Path(tempfile.mkdtemp(prefix="run-", dir=folder))
                            result = await run_burst(size, load, gpu, step_s, workdir, profile, quiet_s)
                            results.append(result)
                            print_table([result])
    return results


def print_spread(results: Sequence[BurstResult]) -> None:
    """Per burst condition run more than once: the median and range of p99 and of CPU per interaction."""
    groups: dict[tuple[str, str, int], list[BurstResult]] = {}
    for r in results:
        groups.setdefault((r.load, r.gpu, r.burst), []).append(r)
    for (load, gpu, burst), group in groups.items():
        if len(group) < 2:
            continue
        p99 = [r.p99_ms for r in group]
        cpu = [r.cpu_ms_per_interaction for r in group]
        print(
            f"{load} {gpu} {burst} x{len(group)}: p99 median {statistics.median(p99):.1f} ms "
            f"[{min(p99):.1f}–{max(p99):.1f}], cpu/interaction median {statistics.median(cpu):.3f} ms "
            f"[{min(cpu):.3f}–{max(cpu):.3f}], over 3 s in all {sum(r.over_3_s for r in group)}"
        )


def entry(argv: Sequence[str] | None = None) -> None:
    """`python -m bench.ack_bench`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bursts", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--load", nargs="+", choices=["none", "stress"], default=["none", "stress"])
    parser.add_argument("--gpu", nargs="+", choices=["thread", "process"], default=["thread", "process"])
    parser.add_argument("--runs", type=int, default=1, help="times to run each burst, a fresh bot each time")
    parser.add_argument("--step-s", type=float, default=0.05, help="seconds of pure Python per denoising step")
    parser.add_argument("--quiet-s", type=float, default=3.0, help="seconds of generation alone before each burst")
    parser.add_argument("--profile", type=Path, help="sample the bot with py-spy into this folder, print top frames")
    parser.add_argument("--gil", action="store_true", help="with --profile: sample only the thread holding the GIL")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    # aiohttp logs every request a bot cut off as it shut down; those are the bench's doing, not news.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)  # "Discord" does not share the bot's CPU
    except PermissionError:
        print("note: not root, so the emulator runs at the bot's priority and its own work counts too")
    profile = None if args.profile is None else Profiling(args.profile, args.gil)
    if profile is not None:
        profile.folder.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(run_all(args.bursts, args.load, args.gpu, args.step_s, args.runs, profile, args.quiet_s))
    print()
    print_table(results)
    print_spread(results)
    if args.profile is not None:
        for raw in sorted(args.profile.glob("*.txt")):
            print_summary(raw)
    if args.out is not None:
        args.out.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")


if __name__ == "__main__":
    entry()
