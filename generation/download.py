"""Fetch a pipeline's files into the Hugging Face cache ahead of time, or prove they are already there.

`python -m generation download [--model ID] [--revision REV]` downloads only what diffusers will load
(configs, tokenizer files and one weight set per component, in the configured variant) so that the bot
can later start with `HF_HUB_OFFLINE=1`. With `HF_HUB_OFFLINE=1` set, the same command downloads nothing
and checks that the cache holds a complete pipeline instead.

No torch here: the bot's start-up checks import this module.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx2
from huggingface_hub import HfApi, constants, snapshot_download
from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError
from huggingface_hub.utils import logging as hub_logging

from generation.config import SEED_MODEL_ID, EngineSettings
from generation.errors import ModelLoadError

# diffusers loads safetensors or bin weights; these are other frameworks' or original checkpoints.
_FOREIGN_WEIGHT_SUFFIXES = frozenset({".pth", ".pt", ".ckpt", ".msgpack", ".h5", ".onnx", ".pb", ".gguf"})

# `diffusion_pytorch_model.fp16.safetensors`, `model.fp16-00001-of-00002.safetensors`, `pytorch_model.bin`
_WEIGHT_FILE = re.compile(r"^(?P<stem>[^.]+?)(?:\.(?P<variant>\w+))?(?:-\d{5}-of-\d{5})?\.(?P<ext>safetensors|bin)$")

# `name` or `owner/name`, as the Hub accepts them.
_HUB_ID = re.compile(r"(?![-.])[\w.-]{1,96}(?<![-.])(/(?![-.])[\w.-]{1,96}(?<![-.]))?", re.ASCII)

# The Hub cannot be reached (DNS, refused, timed out): huggingface_hub lets its HTTP client's errors through.
_NO_ROUTE = (httpx2.TransportError, OSError)
NETWORK_FIX = (
    "check this machine's network, proxy (HTTPS_PROXY) and HF_ENDPOINT; or, on a host without Hub access, "
    "copy a cache that holds the model to HF_HOME and set HF_HUB_OFFLINE=1"
)

FIX_HINT = (
    "run `python -m generation download` with network access "
    "(in Docker: `docker compose run --rm bot python -m generation download`), "
    "or mount a cache that holds the model at HF_HOME"
)


def select_files(repo_files: Iterable[str], variant: str | None) -> list[str]:
    """The files of a repository that a diffusers pipeline needs, sorted.

    Every non-weight file of the top two levels (model_index.json, configs, tokenizer files) and, per
    component folder, one weight set: the variant's if the folder has it (as diffusers falls back to the
    plain weights when it has not), safetensors before bin. Weights at the top level are left out: repos
    such as damo-vilab/text-to-video-ms-1.7b keep their original multi-GB checkpoints there.
    """
    chosen: list[str] = []
    # folder -> (variant, extension) -> files of that weight set (several when sharded)
    weights: defaultdict[str, defaultdict[tuple[str | None, str], list[str]]] = defaultdict(lambda: defaultdict(list))
    for name in repo_files:
        path = PurePosixPath(name)
        if len(path.parts) > 2 or path.suffix in _FOREIGN_WEIGHT_SUFFIXES:
            continue
        match = _WEIGHT_FILE.match(path.name)
        if match is None:
            chosen.append(name)
        elif len(path.parts) == 2:
            weights[path.parts[0]][match["variant"], match["ext"]].append(name)
    preference = [(variant, "safetensors"), (variant, "bin"), (None, "safetensors"), (None, "bin")]
    for weight_sets in weights.values():
        best = next((weight_sets[kind] for kind in preference if kind in weight_sets), [])
        chosen.extend(best)
    return sorted(chosen)


def missing_parts(folder: Path) -> list[str]:
    """What keeps `folder` from being a loadable pipeline (empty when it is complete).

    Reads model_index.json and checks each component's folder; a component with a `config.json` is a
    model and needs a weight file too (schedulers and tokenizers have other config names).
    """
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        return ["model_index.json (not a diffusers pipeline folder)"]
    index = json.loads(index_path.read_text(encoding="utf-8"))
    missing: list[str] = []
    for component, spec in index.items():
        if component.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        component_dir = folder / component
        files = [path.name for path in component_dir.iterdir()] if component_dir.is_dir() else []
        if not files:
            missing.append(f"{component}/")
        elif "config.json" in files and not any(_WEIGHT_FILE.match(name) for name in files):
            missing.append(f"{component}/ weights")
    return missing


def is_local_folder(model_id: str) -> bool:
    """True when `model_id` names a folder on disk rather than a Hub repository."""
    return model_id.startswith(("/", ".", "~")) or Path(model_id).is_dir()


@dataclass(frozen=True)
class ModelProblem:
    """Why the engine cannot get its model, and what the operator should do about it."""

    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.message} Fix: {self.fix}."


def cached_model_path(model_id: str, *, revision: str | None = None, cache_dir: Path | None = None) -> Path:
    """The snapshot folder of a complete pipeline already in the cache, without any network access.

    Raises `ModelLoadError` naming the model, what is missing and how to fix it.
    """
    folder, problem = _look_in_cache(model_id, revision, cache_dir)
    if problem is not None:
        raise ModelLoadError(str(problem))
    return folder


def _look_in_cache(model_id: str, revision: str | None, cache_dir: Path | None) -> tuple[Path, ModelProblem | None]:
    cache = cache_dir or Path(constants.HF_HUB_CACHE)
    try:
        folder = Path(snapshot_download(model_id, revision=revision, cache_dir=cache, local_files_only=True))
    except (LocalEntryNotFoundError, HFValidationError):
        message = (
            f"Model {model_id!r} is not in the Hugging Face cache at {cache} and downloads are off (HF_HUB_OFFLINE=1)."
        )
        return cache, ModelProblem(message, FIX_HINT)
    missing = missing_parts(folder)
    if missing:
        message = (
            f"Model {model_id!r} is incomplete in the Hugging Face cache at {cache}: missing {', '.join(missing)}."
        )
        return folder, ModelProblem(message, FIX_HINT)
    return folder, None


def download_model(
    model_id: str, *, revision: str | None = None, variant: str | None = None, cache_dir: Path | None = None
) -> Path:
    """Download the files `select_files` picks into the cache and return the snapshot folder.

    Files already cached are not fetched again. Raises `ModelLoadError` when the Hub refuses or the
    download leaves an incomplete pipeline.
    """
    try:
        repo_files = HfApi().list_repo_files(model_id, revision=revision)
        folder = Path(
            snapshot_download(
                model_id,
                revision=revision,
                cache_dir=cache_dir,
                allow_patterns=select_files(repo_files, variant),
            )
        )
    except _NO_ROUTE as error:
        reason = str(error) or type(error).__name__
        raise ModelLoadError(
            f"Could not download model {model_id!r}: the Hugging Face Hub at {constants.ENDPOINT} cannot be "
            f"reached ({reason}). Fix: {NETWORK_FIX}."
        ) from error
    except (HfHubHTTPError, LocalEntryNotFoundError, HFValidationError) as error:
        raise ModelLoadError(
            f"Could not download model {model_id!r}: {error}. Check the id and revision, the network, "
            "and HF_TOKEN for gated or private repositories."
        ) from error
    missing = missing_parts(folder)
    if missing:
        raise ModelLoadError(
            f"Model {model_id!r} downloaded but is not a complete pipeline: missing {', '.join(missing)}."
        )
    return folder


def find_model_problem(
    settings: EngineSettings,
    *,
    cache_dir: Path | None = None,
    offline: bool | None = None,
    setting: str = "MODEL_ID",
) -> ModelProblem | None:
    """None when the engine can get its model, else what is wrong and the fix, naming `setting`.

    A local folder must hold a complete pipeline, and anything else must read as a Hub id. A Hub model
    must be complete in the cache only when downloads are off (`offline`, by default `HF_HUB_OFFLINE`);
    online, the engine fetches it at first load.
    """
    model_id = settings.model_id
    if is_local_folder(model_id):
        folder = Path(model_id).expanduser()
        if not folder.is_dir():
            message = f"{setting}: {model_id!r} is not a folder on this machine."
        else:
            missing = missing_parts(folder)
            if not missing:
                return None
            message = f"{setting}: the folder {model_id!r} is missing {', '.join(missing)}."
        fix = f"point {setting} at a folder saved with `pipeline.save_pretrained()`, or at a Hub model id"
        return ModelProblem(message, fix)
    if not _HUB_ID.fullmatch(model_id):
        message = f"{setting}: {model_id!r} is neither a folder on this machine nor a Hugging Face model id."
        return ModelProblem(message, f"set {setting} to a Hub id such as {SEED_MODEL_ID}, or to a pipeline folder")
    if not (constants.is_offline_mode() if offline is None else offline):
        return None
    problem = _look_in_cache(model_id, None, cache_dir)[1]
    return None if problem is None else ModelProblem(f"{setting}: {problem.message}", problem.fix)


def check_model_available(
    settings: EngineSettings, *, cache_dir: Path | None = None, offline: bool | None = None
) -> str | None:
    """None when the engine can get its model, else one message naming the model and the fix."""
    problem = find_model_problem(settings, cache_dir=cache_dir, offline=offline)
    return None if problem is None else str(problem)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m generation download",
        description=(
            "Download the model's pipeline files into the Hugging Face cache (HF_HOME), in the weight "
            "variant MODEL_VARIANT. With HF_HUB_OFFLINE=1, check the cache holds it instead."
        ),
    )
    parser.add_argument("--model", help="Hub id or local folder (default: MODEL_ID from the settings)")
    parser.add_argument("--revision", help="branch, tag or commit (default: main)")
    return parser


def main(argv: list[str], settings: EngineSettings) -> int:
    """Run `python -m generation download` with `settings`; return the exit code (0 when the model is ready).

    A failure is one line on stderr: huggingface_hub's own retry warnings are not shown.
    """
    args = _parser().parse_args(argv)
    hub_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    if args.model:
        settings = settings.model_copy(update={"model_id": args.model})
    model_id = settings.model_id
    if is_local_folder(model_id):
        problem = check_model_available(settings)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        print(f"Model {model_id!r} is a complete local pipeline folder; nothing to download.")
        return 0
    try:
        if constants.is_offline_mode():
            folder = cached_model_path(model_id, revision=args.revision)
            print(f"Model {model_id!r} is complete in the cache ({folder}); offline, nothing downloaded.")
        else:
            folder = download_model(model_id, revision=args.revision, variant=settings.model_variant)
            print(f"Model {model_id!r} is ready in the cache ({folder}).")
    except ModelLoadError as error:
        print(error, file=sys.stderr)
        return 1
    return 0
