"""Start-up checks: find what would make the bot fail later, and say which setting to change and how.

    settings = load_settings_or_explain()        # raises StartupCheckFailed on invalid settings
    problems = check_startup(settings)
    if problems:
        log.warning("%s", format_problems(problems))
    if any(problem.fatal for problem in problems):
        raise SystemExit(2)

The GPU check does not import torch (seconds of start-up, and the bot may run without it): it reads
torch's installed version and looks for the NVIDIA device nodes that the driver, or in Docker the
NVIDIA Container Toolkit, creates. A driver too old for torch's CUDA still passes here and shows up
when the engine first initialises CUDA.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr, ValidationError
from pydantic_core import ErrorDetails

from bot.logging_setup import DISCORD_TOKEN_PATTERN
from bot.settings import Settings
from generation.download import find_model_problem

TOKEN_FIX = (
    "open https://discord.com/developers/applications → your application → Bot → Reset Token, and put "
    "the token in .env as DISCORD_TOKEN=<token> (no quotes, no 'Bot ' prefix)"
)
GPU_FIX = (
    "install the NVIDIA driver and the NVIDIA Container Toolkit on the host and reserve the GPU "
    "(docker-compose.yml's deploy.resources, or `docker run --gpus all`); to run on the CPU on purpose, "
    "set DEVICE=cpu"
)


@dataclass(frozen=True)
class StartupProblem:
    """One thing wrong at start-up: the environment variable to look at, what is wrong, how to fix it."""

    setting: str
    message: str
    fix: str
    fatal: bool


class StartupCheckFailed(Exception):
    """Settings are invalid; `str()` lists each problem with its fix (and never a secret's value)."""

    def __init__(self, problems: Sequence[StartupProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(format_problems(self.problems))


@dataclass(frozen=True)
class GpuEnvironment:
    """What can be learnt about the GPU without importing torch."""

    torch_version: str | None
    nvidia_devices: tuple[str, ...]
    cuda_visible_devices: str | None

    @property
    def gpu_visible(self) -> bool:
        """True when an NVIDIA device node exists and CUDA_VISIBLE_DEVICES does not hide every GPU."""
        hidden = self.cuda_visible_devices is not None and self.cuda_visible_devices.strip() in ("", "-1")
        return bool(self.nvidia_devices) and not hidden


def inspect_gpu(dev: Path = Path("/dev")) -> GpuEnvironment:
    """Read torch's installed version, the `/dev/nvidiaN` nodes and CUDA_VISIBLE_DEVICES."""
    try:
        torch_version: str | None = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = None
    devices = tuple(sorted(path.name for path in dev.glob("nvidia[0-9]*")))
    return GpuEnvironment(torch_version, devices, os.environ.get("CUDA_VISIBLE_DEVICES"))


def check_startup(
    settings: Settings,
    *,
    gpu: GpuEnvironment | None = None,
    hf_cache: Path | None = None,
    hf_offline: bool | None = None,
) -> list[StartupProblem]:
    """Every problem found, fatal ones first; an empty list means good to go.

    `gpu`, `hf_cache` and `hf_offline` default to this machine (`inspect_gpu()`, HF_HOME, HF_HUB_OFFLINE).
    """
    problems = [
        *_check_token(settings.discord_token),
        *_check_log_level(settings.log_level),
        *_check_gpu(settings.device, gpu or inspect_gpu()),
        *_check_writable("DATABASE_PATH", settings.database_path.parent),
        *_check_writable("OUTPUT_DIR", settings.output_dir),
    ]
    model = find_model_problem(settings, cache_dir=hf_cache, offline=hf_offline)
    if model is not None:
        problems.append(StartupProblem("MODEL_ID", model.message, model.fix, fatal=True))
    return sorted(problems, key=lambda problem: not problem.fatal)


def format_problems(problems: Sequence[StartupProblem]) -> str:
    """A block for the log or the terminal: one entry per problem with its setting and fix."""
    fatal = sum(problem.fatal for problem in problems)
    lines = [f"Start-up checks found {len(problems)} problem(s), {fatal} fatal:"]
    for problem in problems:
        lines.append(f"  [{'fatal' if problem.fatal else 'warning'}] {problem.setting}: {problem.message}")
        lines.append(f"      fix: {problem.fix}")
    return "\n".join(lines)


def load_settings_or_explain(env_file: str | Path | None = ".env") -> Settings:
    """Build `Settings` from the environment and `env_file`, or raise `StartupCheckFailed`.

    Each validation error becomes one problem naming the environment variable, the value (unless it is
    a secret) and what is allowed.
    """
    try:
        return Settings(_env_file=env_file)
    except ValidationError as error:
        raise StartupCheckFailed([_explain(detail) for detail in error.errors()]) from None


def _explain(detail: ErrorDetails) -> StartupProblem:
    field = str(detail["loc"][0]) if detail["loc"] else "settings"
    variable = field.upper()
    info = Settings.model_fields.get(field)
    secret = info is not None and info.annotation is SecretStr
    if detail["type"] == "missing":
        message = f"{variable} is not set."
    elif secret:
        message = f"{variable} is invalid: {detail['msg']}."
    else:
        message = f"{variable}={detail['input']!r} is invalid: {detail['msg']}."
    if field == "discord_token":
        fix = TOKEN_FIX
    else:
        described = f" ({info.description})" if info is not None and info.description else ""
        fix = f"set {variable} in .env or the environment to a valid value{described}"
    return StartupProblem(variable, message, fix, fatal=True)


def _check_token(token: SecretStr) -> list[StartupProblem]:
    value = token.get_secret_value()
    if not value.strip():
        return [StartupProblem("DISCORD_TOKEN", "DISCORD_TOKEN is empty.", TOKEN_FIX, fatal=True)]
    if DISCORD_TOKEN_PATTERN.fullmatch(value):
        return []
    if value.startswith("Bot "):
        why = "it starts with 'Bot ', which discord.py adds itself"
    elif value[0] in "\"'" or value[-1] in "\"'":
        why = "it is wrapped in quotes"
    else:
        why = "a bot token has three dot-separated parts; an application id or client secret does not"
    return [
        StartupProblem("DISCORD_TOKEN", f"DISCORD_TOKEN does not look like a bot token: {why}.", TOKEN_FIX, fatal=True)
    ]


def _check_log_level(level: str) -> list[StartupProblem]:
    if level.upper() in logging.getLevelNamesMapping():
        return []
    return [
        StartupProblem(
            "LOG_LEVEL",
            f"LOG_LEVEL={level!r} is not a logging level.",
            "set LOG_LEVEL to DEBUG, INFO, WARNING or ERROR",
            fatal=True,
        )
    ]


def _check_gpu(device: str, gpu: GpuEnvironment) -> list[StartupProblem]:
    if device == "cpu":
        return []
    explicit = device.startswith("cuda")
    consequence = "the engine cannot start" if explicit else "generation falls back to the CPU (minutes per video)"
    if gpu.torch_version is None:
        message = f"torch is not installed, so this process cannot generate videos (DEVICE={device})."
        return [StartupProblem("DEVICE", message, "use the Docker image, or install torch with CUDA", fatal=explicit)]
    if "+cpu" in gpu.torch_version:
        message = f"torch {gpu.torch_version} is a CPU-only build; {consequence}."
        fix = "install a CUDA build of torch (the Docker image has one), or set DEVICE=cpu"
        return [StartupProblem("DEVICE", message, fix, fatal=explicit)]
    if not gpu.gpu_visible:
        where = "CUDA_VISIBLE_DEVICES hides every GPU" if gpu.nvidia_devices else "no /dev/nvidia* device"
        message = f"No NVIDIA GPU is visible ({where}); {consequence}."
        return [StartupProblem("DEVICE", message, GPU_FIX, fatal=explicit)]
    return []


def _check_writable(variable: str, folder: Path) -> list[StartupProblem]:
    existing = folder.resolve()
    while not existing.exists():
        existing = existing.parent
    if os.access(existing, os.W_OK | os.X_OK):
        return []
    message = f"{variable} is under {folder}, which this user (uid {os.getuid()}) cannot write."
    fix = f"point {variable} at a writable place, or give the volume to uid {os.getuid()} (`chown -R`)"
    return [StartupProblem(variable, message, fix, fatal=True)]
