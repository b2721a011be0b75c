"""The `videobot` command (also `python -m bot`): check every setting, then run the bot.

The order is the point of this module:

1. `--help` and `--version` answer without loading anything.
2. Settings are loaded and every value checked. A mistake is one line per problem on stderr and exit
   status 78 (`EXIT_CONFIG`), before logging is set up (LOG_LEVEL may be the mistake).
3. The Hugging Face settings read from `.env` are exported before huggingface_hub is first imported.
4. What the settings mean on this machine is checked (token shape, GPU, folders, model, port): fatal
   problems exit 78 the same way, warnings are logged. Then OUTPUT_DIR is locked: a second bot on the
   same folder exits 78 too (`bot.startup.instance_lock`).
5. The bot runs (`bot.startup.run`, on uvloop where it is installed: `bot.startup.event_loop`):
   Discord is checked first, and what only the operator can fix there (a refused token, a wrong guild
   id) is one logged line and exit 78 too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from bot.observability.logging_setup import configure_logging
from bot.settings import Settings
from bot.startup.instance_lock import hold_output_dir
from bot.startup.problems import EXIT_CONFIG, StartupCheckFailed, StartupProblem, load_settings_or_explain
from generation.config import settings_parser
from generation.hub_environment import export_hub_settings

log = logging.getLogger("bot")


def run(argv: Sequence[str] | None = None) -> None:
    """Console entry point (`videobot`, `python -m bot`); `argv` defaults to `sys.argv[1:]`."""
    _parser().parse_args(argv)
    try:
        settings = load_settings_or_explain()
    except StartupCheckFailed as failure:
        _exit_unconfigured(failure.problems)
    export_hub_settings(settings)
    # Imports huggingface_hub, which reads HF_* once: only after the export above.
    from bot.startup.checks import check_startup

    problems = check_startup(settings)
    if any(problem.fatal for problem in problems):
        _exit_unconfigured(problems)
    lock = hold_output_dir(settings.output_dir)
    if isinstance(lock, StartupProblem):
        _exit_unconfigured([lock])
    secrets = [secret.get_secret_value() for secret in (settings.discord_token, settings.hf_token) if secret]
    configure_logging(settings.log_level, settings.log_format, secrets)
    for problem in problems:
        log.warning("%s", problem.line())
    from bot.startup.event_loop import run_on_best_loop
    from bot.startup.run import main

    try:
        run_on_best_loop(main(settings))
    except StartupCheckFailed as failure:
        for problem in failure.problems:
            log.error("%s", problem.line())
        raise SystemExit(EXIT_CONFIG) from None
    finally:
        lock.release()


def _exit_unconfigured(problems: Sequence[StartupProblem]) -> NoReturn:
    for problem in problems:
        print(f"{'error' if problem.fatal else 'warning'}: {problem.line()}", file=sys.stderr)
    raise SystemExit(EXIT_CONFIG)


def _parser() -> argparse.ArgumentParser:
    return settings_parser(
        "videobot",
        (
            "Run the text-to-video Discord bot. Settings come from the environment and from .env in the "
            "current folder (the environment wins); every one is checked before the bot starts, and a "
            f"mistake ends it with one line per problem and exit status {EXIT_CONFIG}."
        ),
        Settings.model_fields,
    )
