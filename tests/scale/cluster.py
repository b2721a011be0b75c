"""Bot processes, GPU worker processes and a redis-server, as an operator runs them on several machines
(here all on 127.0.0.1), driven through the Discord emulator.

Every process is the real entry point (`python -m bot`, `python -m generation.worker`) in a session of
its own, so `kill()` takes a worker's GPU child process with it, as losing the machine would. Their
logs go to files in the test's folder (a pipe nobody reads would stall a chatty process) and are
printed when a test fails.

The waits poll a condition (Redis' state, the emulator's), never the time: the pause between two
looks only spares the CPU, and the timeout is a safety net for a hung process, not a deadline.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import redis

from generation.queue.redis.verbs import DEFAULT_PREFIX
from tests.discord_emulator import DiscordEmulator
from tests.discord_emulator.models import Channel, Guild, Interaction, Message, RecordedRequest, User
from tests.fixtures.binaries import required_binary
from tests.fixtures.redis_server import RedisServer
from tests.ops.entry_points import clean_environment
from tests.patience import PATIENCE_S

#: The prefix the bot and the workers use by default.
PREFIX = DEFAULT_PREFIX
#: Long enough that a worker starved of CPU on a busy machine still beats in time, so only a worker
#: that is really gone loses its job; short enough that a test waiting for a reclaim stays quick.
LEASE_S = 6.0
#: A safety net for a process that hangs: several processes each start and import torch first.
CLUSTER_PATIENCE_S = 5 * PATIENCE_S
_LOOK_EVERY_S = 0.05


@dataclass
class Cluster:
    """Bots (one, or one per shard range), any number of workers and one Redis, all talking to `emulator`."""

    emulator: DiscordEmulator
    redis_server: RedisServer
    model_dir: Path
    folder: Path
    guild: Guild
    channel: Channel
    bots: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[Path] = field(default_factory=list)
    _prompts: dict[int, str] = field(default_factory=dict)  # interaction id -> the prompt, flags left out

    # -- processes ---------------------------------------------------------------------------------

    def start_bot(self, name: str = "bot", **settings: str) -> subprocess.Popen[bytes]:
        """Start `python -m bot` named `name` with `QUEUE_URL` set (so it runs no worker of its own); each
        name has its own OUTPUT_DIR and DATABASE_PATH, kept when it is started again."""
        env = {
            "DISCORD_TOKEN": self.emulator.bot_token,
            "DISCORD_API_URL": self.emulator.api_url,
            "DISCORD_GATEWAY_URL": self.emulator.gateway_url,
            "DISCORD_GUILD_IDS": str(self.guild.id),
            "QUEUE_URL": self.redis_server.url,
            "QUEUE_LEASE_S": str(LEASE_S),
            "MODEL_ID": str(self.model_dir),
            "OUTPUT_DIR": str(self.folder / f"{name}-videos"),
            "DATABASE_PATH": str(self.folder / f"{name}.sqlite3"),
            "VIDEO_SIZES": "tiny:64x64",
            "QUEUE_MAX_PER_USER": "5",
            "STATUS_EDIT_INTERVAL_S": "0.2",
            "SHUTDOWN_GRACE_S": "5",
        }
        self.bots[name] = self._start(name, "bot", env | settings)
        return self.bots[name]

    def start_worker(self, name: str, *, clock_offset_s: int = 0, **settings: str) -> subprocess.Popen[bytes]:
        """Start `python -m generation.worker` named `name`, on the CPU with the tiny pipeline; with
        `clock_offset_s`, its host's clock (and its GPU process's) that far ahead, or behind if negative."""
        env = {
            "QUEUE_URL": self.redis_server.url,
            "QUEUE_LEASE_S": str(LEASE_S),
            "MODEL_ID": str(self.model_dir),
            "DEVICE": "cpu",
            "TORCH_DTYPE": "float32",
            "OFFLOAD": "none",
            "WORKER_NAME": name,
            "OUTPUT_DIR": str(self.folder / f"{name}-videos"),
            "SHUTDOWN_GRACE_S": "5",
        }
        self.workers[name] = self._start(f"worker-{name}", "generation.worker", env | settings, clock_offset_s)
        return self.workers[name]

    def _start(
        self, label: str, module: str, settings: Mapping[str, str], clock_offset_s: int = 0
    ) -> subprocess.Popen[bytes]:
        log = self.folder / f"{label}-{len(self._logs)}.log"
        self._logs.append(log)
        # libfaketime (Debian's `faketime`) moves every clock the process and its children read.
        offset = (
            [required_binary("faketime", "clocks that disagree are not tested"), "-f", f"{clock_offset_s:+d}s"]
            if clock_offset_s
            else []
        )
        with log.open("wb") as output:
            return subprocess.Popen(
                [*offset, sys.executable, "-m", module],
                cwd=self.folder,
                env=clean_environment(**settings),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and its children (a worker's GPU process), as a lost machine would."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    @staticmethod
    def freeze(process: subprocess.Popen[bytes]) -> None:
        """SIGSTOP the process and its children: they keep what they hold but can do nothing more."""
        os.killpg(process.pid, signal.SIGSTOP)

    @staticmethod
    def thaw(process: subprocess.Popen[bytes]) -> None:
        """SIGCONT what `freeze` stopped."""
        os.killpg(process.pid, signal.SIGCONT)

    def stop_all(self) -> None:
        """Stop every process still running (SIGTERM, then SIGKILL for one that does not go)."""
        for process in [*self.workers.values(), *self.bots.values()]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGCONT)
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.workers.values(), *self.bots.values()]:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def logs(self) -> str:
        """Every process' output, for a failed test's report."""
        return "\n".join(f"===== {log.name}\n{log.read_text(errors='replace')[-6000:]}" for log in self._logs)

    # -- Redis' view ---------------------------------------------------------------------------------

    def redis(self) -> redis.Redis:
        """A plain client on the cluster's Redis (strings decoded)."""
        return redis.Redis.from_url(self.redis_server.url, decode_responses=True)

    def jobs(self) -> list[dict[str, str]]:
        """Every job's record in Redis."""
        with self.redis() as client:
            keys = sorted(client.scan_iter(f"{PREFIX}job:*"))
            return [{"id": key.removeprefix(f"{PREFIX}job:"), **client.hgetall(key)} for key in keys]

    def ready_workers(self) -> set[str]:
        """Workers that heartbeat and have their model loaded."""
        with self.redis() as client:
            names = client.zrange(f"{PREFIX}workers", 0, -1)
            return {name for name in names if client.hget(f"{PREFIX}worker:{name}", "model") == "ready"}

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        """Until `condition()` holds; fails naming `what` (with every process' log) if a process hangs."""
        try:
            async with asyncio.timeout(CLUSTER_PATIENCE_S):
                while not condition():
                    for name, process in [*self.workers.items(), *self.bots.items()]:
                        if process.returncode is None and process.poll() is not None:
                            raise AssertionError(f"{name} exited with {process.returncode} while waiting for {what}")
                    await asyncio.sleep(_LOOK_EVERY_S)
        except TimeoutError:
            raise AssertionError(f"still waiting for {what} after {CLUSTER_PATIENCE_S:.0f} s\n{self.logs()}") from None

    async def until_workers_ready(self, *names: str) -> None:
        """Until the named workers heartbeat with their model loaded."""
        await self.until(lambda: set(names) <= self.ready_workers(), f"workers {names} ready")

    async def until_bot_ready(self) -> None:
        """Until the bot process is logged in and has synced its commands."""
        await self.emulator.wait_until_ready(timeout=CLUSTER_PATIENCE_S)
        await self.emulator.wait_for(lambda: bool(self.emulator.commands(self.guild)), timeout=CLUSTER_PATIENCE_S)

    # -- Discord's view ------------------------------------------------------------------------------

    async def video(self, user: User, prompt: str, channel: Channel | None = None) -> Interaction:
        """`/video prompt` as `user` (in `channel`, by default the cluster's), once the bot has answered it."""
        where = channel or self.channel
        interaction = await self.emulator.invoke_slash(user, where, "video", {"prompt": prompt})
        await interaction.wait_for_response(timeout=CLUSTER_PATIENCE_S)
        self._prompts[interaction.id] = prompt.split(" -")[0]
        return interaction

    def uploads(self) -> list[RecordedRequest]:
        """Every MP4 the bot uploaded and Discord accepted."""
        return [
            request
            for request in self.emulator.requests
            if 200 <= request.status < 300 and any(file.filename.endswith(".mp4") for file in request.files)
        ]

    def delivered(self, interaction: Interaction) -> bool:
        """Whether the user has the video `interaction` asked for: in the reply, or (after the reply's
        token expired, or a restart) in a channel message mentioning them that shows its prompt."""
        original = interaction.original
        if original is not None and _has_video(original):
            return True
        mention, prompt = f"<@{interaction.user.id}>", self._prompts[interaction.id]
        return any(
            mention in message.content and _has_video(message) and prompt in _descriptions(message)
            for message in self.emulator.messages(interaction.channel)
        )


def _has_video(message: Message) -> bool:
    return any(attachment.filename.endswith(".mp4") for attachment in message.attachments)


def _descriptions(message: Message) -> list[str]:
    return [str(embed.get("description", "")) for embed in message.embeds]


def video_prompt(text: str) -> str:
    """A prompt for a tiny, quick video."""
    return f"{text} -steps 2 -frames 2"


def members(cluster: Cluster, count: int) -> list[User]:
    """`count` new members of the cluster's guild."""
    users = [cluster.emulator.add_user(f"member{n}") for n in range(count)]
    for user in users:
        cluster.emulator.add_member(cluster.guild, user)
    return users
