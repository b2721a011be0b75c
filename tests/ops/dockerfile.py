"""The Dockerfile read as data: its instructions, its stages, and what each target is built from."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
# full: the bot with its GPU engine (one machine; the GPU worker). bot: the bot alone, for QUEUE_URL.
TARGETS = ["full", "bot"]
Step = tuple[str, str]


def instructions() -> list[Step]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")),
    )
    pairs = [line.strip().split(None, 1) for line in joined.splitlines() if line.strip()]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def stages() -> dict[str, tuple[str, list[Step]]]:
    """Each stage by name (or index): the stage it is built FROM and its own instructions."""
    found: dict[str, tuple[str, list[Step]]] = {}
    steps: list[Step] = []
    for name, args in instructions():
        if name == "FROM":
            source, *alias = args.split(" AS ")
            steps = []
            found[alias[0].strip() if alias else str(len(found))] = (source.strip(), steps)
        elif found:
            steps.append((name, args))
    return found


def target(name: str) -> list[Step]:
    """What the image of target `name` is built from: its own instructions after those of the stages below."""
    source, steps = stages()[name]
    return [*(target(source) if source in stages() else []), *steps]


def default_target() -> str:
    """The target `docker build` builds when given none: the last stage."""
    return list(stages())[-1]


def image_env(name: str | None = None) -> dict[str, str]:
    """The environment the image of target `name` (the default target if None) sets."""
    env: dict[str, str] = {}
    for instruction, args in target(name or default_target()):
        if instruction == "ENV":
            env |= dict(re.findall(r"(\w+)=(\S+)", args))
    return env


def hashed_locks(steps: list[Step]) -> list[str]:
    """The lock files that `steps` install hash-checked, in order."""
    found = (re.search(r"--require-hashes --no-deps -r /tmp/requirements/(\w[\w-]*\.txt)", args) for _, args in steps)
    return [match[1] for match in found if match]
