"""The dependency rules of the architecture, checked on the real import graph."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


_EVERY_BOT_MODULE = (
    "import importlib, pkgutil, bot; "
    "[importlib.import_module(m.name) for m in pkgutil.walk_packages(bot.__path__, 'bot.')]"
)

_PRODUCTION_QUEUE = (
    "from bot.settings import Settings; from generation.queue_factory import create_local_queue; "
    "settings = Settings(_env_file=None, discord_token='x'); create_local_queue(settings, settings)"
)


_REDIS_QUEUE = (
    "from bot.settings import Settings; from generation.queue_factory import create_queue; "
    "settings = Settings(_env_file=None, discord_token='x', queue_url='redis://127.0.0.1:1/0'); "
    "assert type(create_queue(settings, settings)).__name__ == 'RedisJobQueue'"
)
_GPU_SIDE = {"generation.queue.runner", "generation.queue.gpu", "generation.process_generator", "generation.generator"}


@pytest.mark.parametrize(
    "statement",
    [
        "import bot.settings",
        "import bot.startup.run, bot.startup.client",
        _EVERY_BOT_MODULE,  # a module only a command or a cog imports counts too
        "import generation.request, generation.queue.interface, generation.errors",
        _PRODUCTION_QUEUE,  # the pipeline is built in the GPU process, not in the bot's
        _REDIS_QUEUE,
    ],
    ids=["settings", "bot", "every-bot-module", "queue-interface", "production-queue", "redis-queue"],
)
def test_bot_side_imports_load_no_gpu_stack(statement: str) -> None:
    loaded = _modules_loaded_by(statement)
    assert loaded.isdisjoint({"torch", "diffusers", "transformers", "accelerate", "numpy"})


def test_a_bot_on_the_queue_in_redis_loads_no_gpu_worker() -> None:
    loaded = _modules_loaded_by(_REDIS_QUEUE)

    assert loaded & _GPU_SIDE == set()
    assert {"transformers", "accelerate"} & loaded == set()


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _offenders(package: str, forbidden: set[str]) -> dict[str, set[str]]:
    found = {str(p.relative_to(ROOT)): _imported_roots(p) & forbidden for p in (ROOT / package).rglob("*.py")}
    return {path: roots for path, roots in found.items() if roots}


def test_generation_never_imports_discord_or_bot() -> None:
    assert _offenders("generation", {"discord", "bot"}) == {}


def test_bot_never_imports_torch_or_diffusers_directly() -> None:
    assert _offenders("bot", {"torch", "diffusers", "transformers", "accelerate"}) == {}


def _keyword_users(package: str, keyword: str) -> list[str]:
    """Files under `package` with a call that passes `keyword=`."""
    users = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and any(k.arg == keyword for k in node.keywords):
                users.append(str(path.relative_to(ROOT)))
                break
    return users


def test_production_code_never_hands_the_redis_scripts_a_clock_of_its_own() -> None:
    # Leases are compared across hosts: only Redis's clock may stamp them; `test_clock` is for tests.
    assert [*_keyword_users("generation", "test_clock"), *_keyword_users("bot", "test_clock")] == []


# Which bot/ concern may import which: the tree is the architecture. Start-up wires everything; cogs
# reach the queue only through intake's `JobActions` and `QueueControls`; delivery knows nothing of
# intake; `settings` and `errors` are the two shared modules beside the packages.
BOT_IMPORTS_ALLOWED = {
    "startup": {
        "cogs",
        "delivery",
        "discord_io",
        "errors",
        "i18n",
        "intake",
        "moderation",
        "observability",
        "settings",
    },
    "cogs": {"discord_io", "errors", "i18n", "intake", "moderation"},
    "intake": {"delivery", "discord_io", "errors", "i18n", "moderation", "settings"},
    "moderation": {"discord_io", "errors", "i18n", "settings"},
    "delivery": {"discord_io", "errors", "i18n"},
    "discord_io": {"errors", "i18n"},
    "observability": set(),
    "settings": {"intake", "moderation"},  # the typed values it parses into
    "errors": {"i18n"},  # `marked`: an error's English text is a catalogue key
    "i18n": set(),  # the catalogues and the translator: a leaf, any part may say things through it
    "healthcheck": set(),  # Docker's probe: a bare interpreter, nothing of the bot
    "__main__": {"startup"},
    "__init__": set(),
}


def _bot_part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "bot" and len(parts) > 1 else None


def _bot_import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "bot").rglob("*.py"):
        source = _bot_part(".".join(path.relative_to(ROOT).with_suffix("").parts))
        assert source is not None
        targets = graph.setdefault(source, set())
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            targets.update(part for part in map(_bot_part, names) if part not in (None, source))
    return graph


def test_bot_is_a_few_packages_by_concern_and_two_shared_modules() -> None:
    assert set(_bot_import_graph()) == set(BOT_IMPORTS_ALLOWED)


def test_each_bot_package_imports_only_the_concerns_it_may() -> None:
    graph = _bot_import_graph()
    assert {part: targets - BOT_IMPORTS_ALLOWED[part] for part, targets in graph.items()} == {
        part: set() for part in graph
    }
