"""What start-up reports: one line per problem, naming the setting, what is wrong and the fix.

    try:
        settings = load_settings_or_explain()
    except StartupCheckFailed as failure:
        for problem in failure.problems:
            print(f"error: {problem.line()}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None

Light on purpose (pydantic only): the `videobot` command loads and explains settings before it imports
anything that reads the environment at import time (huggingface_hub) or takes seconds (discord, torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import SecretStr, ValidationError
from pydantic_core import ErrorDetails

from bot.settings import Settings

#: Exit status for a configuration the operator must change (sysexits.h EX_CONFIG): distinct from a
#: crash (1) and from a bad command line (2).
EXIT_CONFIG: Final = 78

TOKEN_FIX: Final = (
    "open https://discord.com/developers/applications → your application → Bot → Reset Token, and put "
    "the token in .env as DISCORD_TOKEN=<token> (no quotes, no 'Bot ' prefix)"
)


@dataclass(frozen=True)
class StartupProblem:
    """One thing wrong at start-up: the environment variable to look at, what is wrong, how to fix it."""

    setting: str
    message: str
    fix: str
    fatal: bool

    def line(self) -> str:
        """The problem as one line: the message (which names the setting), then the fix."""
        return f"{self.message} Fix: {self.fix}."


class StartupCheckFailed(Exception):
    """Start-up cannot go on; `str()` is one line per problem (and never a secret's value)."""

    def __init__(self, problems: Sequence[StartupProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(problem.line() for problem in self.problems))


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
    secret = info is not None and SecretStr in (info.annotation, *getattr(info.annotation, "__args__", ()))
    reason = detail["msg"].removeprefix("Value error, ")
    if detail["type"] == "missing":
        message = f"{variable} is not set."
    elif secret:
        message = f"{variable} is invalid: {reason}."
    else:
        message = f"{variable}={detail['input']!r} is invalid: {reason}."
    if field == "discord_token":
        fix = TOKEN_FIX
    else:
        verb = "set" if detail["type"] == "missing" else "correct"
        described = f": {info.description}" if info is not None and info.description else ""
        fix = f"{verb} {variable} in .env or the environment{described}"
    return StartupProblem(variable, message, fix, fatal=True)
