"""Start-up checks: find what would make the bot fail later, and say which setting to change and how.

    settings = load_settings_or_explain()        # bot.startup.problems: every value checked
    export_hub_settings(settings)                # before huggingface_hub is imported (this module does)
    problems = check_startup(settings)           # what the values mean on this machine
    if any(problem.fatal for problem in problems):
        raise SystemExit(EXIT_CONFIG)

The GPU check does not import torch (seconds of start-up, and the bot may run without it): it reads
torch's installed version and looks for the NVIDIA device nodes that the driver, or in Docker the
NVIDIA Container Toolkit, creates. A driver too old for torch's CUDA still passes here and shows up
when the engine first initialises CUDA. The database is read through (`PRAGMA quick_check`) here, before
Discord is contacted: see `generation.database_check`.
"""

from __future__ import annotations

import errno
import importlib.metadata
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bot.intake.channel_defaults import CHANNEL_DEFAULTS_SCHEMA
from bot.moderation.rules_store import RULES_SCHEMA
from bot.observability.logging_setup import DISCORD_TOKEN_PATTERN
from bot.settings import Settings
from bot.startup.problems import TOKEN_FIX, StartupProblem
from generation.config import stray_names
from generation.database_check import check_database
from generation.download import find_model_problem
from generation.profiles import pipeline_class_name, profile_for_class
from generation.queue.store import JOBS_SCHEMA

GPU_FIX = (
    "install the NVIDIA driver and the NVIDIA Container Toolkit on the host and reserve the GPU "
    "(docker-compose.yml's deploy.resources, or `docker run --gpus all`); to run on the CPU on purpose, "
    "set DEVICE=cpu"
)
#: Every component with tables in the bot's database: a file holding one at a newer version is refused.
DATABASE_SCHEMAS = (JOBS_SCHEMA, CHANNEL_DEFAULTS_SCHEMA, RULES_SCHEMA)


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
    env_file: Path | None = Path(".env"),
    environ: Mapping[str, str] | None = None,
) -> list[StartupProblem]:
    """Every problem found, fatal ones first; an empty list means good to go.

    `gpu`, `hf_cache` and `hf_offline` default to this machine (`inspect_gpu()`, HF_HOME, HF_HUB_OFFLINE);
    names in `env_file` that are no setting, and names in `environ` (default `os.environ`) that look like a
    setting's typo, are warned about, with the setting meant where one is close.
    """
    problems = [
        *_check_token(settings.discord_token),
        *_check_limits(settings),
        *_check_profile(settings),
        *_check_output_dir(settings.output_dir),
        *_check_database_path(settings.database_path),
        *_check_health_port(settings.health_host, settings.health_port),
        *_check_names(env_file, os.environ if environ is None else environ),
    ]
    # With QUEUE_URL the GPU, the model and the jobs are the workers' and Redis'; a bot host has none of
    # them (its image has no torch), so they are not this process's to check. Its database still holds
    # the channel defaults.
    if settings.queue_url is None:
        problems += _check_gpu(settings.device, gpu or inspect_gpu())
        model = find_model_problem(settings, cache_dir=hf_cache, offline=hf_offline)
        if model is not None:
            problems.append(StartupProblem("MODEL_ID", model.message, model.fix, fatal=True))
    return sorted(problems, key=lambda problem: not problem.fatal)


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


def _check_limits(settings: Settings) -> list[StartupProblem]:
    if settings.default_steps <= settings.max_steps:
        return []
    message = (
        f"DEFAULT_STEPS={settings.default_steps} is more than MAX_STEPS={settings.max_steps}, "
        "so a /video without steps would be refused."
    )
    return [StartupProblem("DEFAULT_STEPS", message, "lower DEFAULT_STEPS or raise MAX_STEPS", fatal=True)]


def _check_profile(settings: Settings) -> list[StartupProblem]:
    """A MODEL_PROFILE for another kind of pipeline than MODEL_ID's, where its model_index.json can be read
    (a folder, or the Hugging Face cache): the engine would refuse it only when it loads the model."""
    saved_as = pipeline_class_name(settings.model_id, settings.hf_home)
    profile = settings.profile
    if settings.model_profile is None or saved_as is None:
        return []
    if profile.loads(saved_as) or saved_as in profile.loads_weights_of:
        return []
    fitting = profile_for_class(saved_as, settings.model_id)
    message = (
        f"MODEL_PROFILE={profile.name} does not fit MODEL_ID={settings.model_id}: its model_index.json names a "
        f"{saved_as}, and {profile.name} is for {' or '.join(profile.pipeline_classes)}."
    )
    advice = f"set MODEL_PROFILE={fitting.name}" if fitting is not None else "leave MODEL_PROFILE empty"
    fix = f"{advice} (empty picks it from the model), or point MODEL_ID at a {profile.pipeline_classes[0]} model"
    return [StartupProblem("MODEL_PROFILE", message, fix, fatal=True)]


def _check_gpu(device: str, gpu: GpuEnvironment) -> list[StartupProblem]:
    if device == "cpu":
        return []
    explicit = device.startswith("cuda")
    consequence = "the engine cannot start" if explicit else "generation falls back to the CPU (minutes per video)"
    if gpu.torch_version is None:
        message = "torch is not installed (a bot-only install) and QUEUE_URL is unset: no GPU can make videos."
        fix = "set QUEUE_URL to the Redis your GPU workers serve, or install the engine here: pip install '.[gpu]'"
        return [StartupProblem("QUEUE_URL", message, fix, fatal=True)]
    if "+cpu" in gpu.torch_version:
        message = f"DEVICE={device}, but torch {gpu.torch_version} is a CPU-only build; {consequence}."
        fix = "install a CUDA build of torch (the Docker image has one), or set DEVICE=cpu"
        return [StartupProblem("DEVICE", message, fix, fatal=explicit)]
    if not gpu.gpu_visible:
        where = "CUDA_VISIBLE_DEVICES hides every GPU" if gpu.nvidia_devices else "no /dev/nvidia* device"
        message = f"DEVICE={device}, but no NVIDIA GPU is visible ({where}); {consequence}."
        return [StartupProblem("DEVICE", message, GPU_FIX, fatal=explicit)]
    return []


def _check_database_path(path: Path) -> list[StartupProblem]:
    if path.is_dir():
        message = f"DATABASE_PATH={str(path)!r} is a folder; it must name the SQLite file."
        fix = f"set DATABASE_PATH to a file in it, e.g. {path / 'videobot.sqlite3'}"
        return [StartupProblem("DATABASE_PATH", message, fix, fatal=True)]
    unusable = check_database(path, DATABASE_SCHEMAS)
    if unusable is not None:
        return [StartupProblem("DATABASE_PATH", unusable.message, unusable.fix, fatal=True)]
    return _check_writable("DATABASE_PATH", path.parent)


def _check_output_dir(folder: Path) -> list[StartupProblem]:
    if folder.exists() and not folder.is_dir():
        message = f"OUTPUT_DIR={str(folder)!r} is a file; it must be a folder for the finished videos."
        return [StartupProblem("OUTPUT_DIR", message, "point OUTPUT_DIR at a folder", fatal=True)]
    return _check_writable("OUTPUT_DIR", folder)


def _check_writable(variable: str, folder: Path) -> list[StartupProblem]:
    existing = folder.resolve()
    while not existing.exists():
        existing = existing.parent
    if os.access(existing, os.W_OK | os.X_OK):
        return []
    message = f"{variable} is under {folder}, which this user (uid {os.getuid()}) cannot write."
    fix = f"point {variable} at a writable place, or give the volume to uid {os.getuid()} (`chown -R`)"
    return [StartupProblem(variable, message, fix, fatal=True)]


def _check_health_port(host: str, port: int | None) -> list[StartupProblem]:
    if port is None:
        return []
    try:
        # The same bind the health server will do (reuse-address, as aiohttp's), released at once.
        with socket.create_server((host, port)):
            return []
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            message = f"HEALTH_PORT={port} is already in use on {host} by another program."
            fix = "stop that program, or set HEALTH_PORT to a free port (or HEALTH_PORT= to turn the server off)"
            return [StartupProblem("HEALTH_PORT", message, fix, fatal=True)]
        message = f"HEALTH_HOST={host!r} cannot be listened on: {error.strerror or error}."
        fix = "set HEALTH_HOST to an address of this machine: 127.0.0.1 (this machine only) or 0.0.0.0 (all)"
        return [StartupProblem("HEALTH_HOST", message, fix, fatal=True)]


def _check_names(env_file: Path | None, environ: Mapping[str, str]) -> list[StartupProblem]:
    return [
        StartupProblem(stray.name, stray.message, stray.fix, fatal=False)
        for stray in stray_names(Settings.model_fields, env_file=env_file, environ=environ)
    ]
