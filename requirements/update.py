"""Regenerate the lock: `python3 requirements/update.py` (`--upgrade` moves every package to its newest
allowed version; without it, versions already locked are kept and only what changed is resolved).

From pyproject.toml and requirements/pins.in, one resolution for every Python from 3.11 and every
platform, preferring one version of a package over one per Python, written four ways:

- constraints.txt: every package, the test and dev tools included, without hashes, for `pip install -c`
  (CI and the README's commands; pip turns hash checking on for a file with hashes, and an editable
  install cannot be hashed);
- torch-cuda.txt: torch and the CUDA libraries it needs on Linux, with hashes (the image);
- image.txt: every other package the bot and its GPU engine need at run time (the dependencies and the
  `gpu` extra), with hashes (the full image: one machine, or a GPU worker);
- bot-image.txt: the packages the bot needs without the GPU stack (the dependencies alone), with
  hashes (the bot image, for a bot that sends its jobs to GPU workers through Redis).

The hashed files are resolved within constraints.txt, so the image runs the versions CI tested. Needs
PyPI; behind a proxy that re-signs TLS, point SSL_CERT_FILE at its certificate bundle. Uses uv, from
PATH or else installed into a temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

UV_VERSION = "0.13.9"
ROOT = Path(__file__).resolve().parents[1]
FOLDER = "requirements"
# One version per package wherever one fits every Python the project supports.
RESOLUTION = ["--universal", "--python-version", "3.11", "--fork-strategy", "fewest", "--quiet"]
# torch's dependencies that only Linux gets are its CUDA libraries (nvidia-*, cuda-*, triton).
LINUX_ONLY = "sys_platform == 'linux'"
# What the bot image must be without: the GPU engine, and what only it needs.
GPU_STACK = {"torch", "diffusers", "transformers", "accelerate", "numpy"}


def main(argv: list[str]) -> int:
    """Write the four files; return the exit status (`--help`: this module's docstring, nothing written)."""
    parser = argparse.ArgumentParser(
        prog="python3 requirements/update.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--upgrade", action="store_true", help="move every package to its newest allowed version (default: keep)"
    )
    upgrade = ["--upgrade"] if parser.parse_args(argv).upgrade else []
    with tempfile.TemporaryDirectory() as scratch:
        uv = _find_uv(Path(scratch))
        _compile(uv, "pyproject.toml", "--extra", "dev", "-c", f"{FOLDER}/pins.in", *upgrade, output="constraints.txt")
        torch = _pinned(_read("constraints.txt"), "torch")
        torch_stack = _compile_stdin(uv, torch, "-c", f"{FOLDER}/constraints.txt")
        cuda = {"torch", *(name for name, line in _entries(torch_stack) if LINUX_ONLY in line)}
        pure = {name for name, _ in _entries(torch_stack)} - cuda
        hashed = ["--generate-hashes", "-c", f"{FOLDER}/constraints.txt"]
        _compile(uv, "-", *hashed, *_no_emit(pure), output="torch-cuda.txt", stdin=torch)
        _compile(uv, "pyproject.toml", "--extra", "gpu", *hashed, *_no_emit(cuda), output="image.txt")
        _compile(uv, "pyproject.toml", *hashed, output="bot-image.txt")
    heavy = {name for name, _ in _entries(_read("bot-image.txt"))} & {*cuda, *GPU_STACK}
    if heavy:
        print(f"{FOLDER}/bot-image.txt pulls in the GPU stack: {', '.join(sorted(heavy))}", file=sys.stderr)
        return 1
    print(f"wrote {FOLDER}/constraints.txt, {FOLDER}/torch-cuda.txt, {FOLDER}/image.txt and {FOLDER}/bot-image.txt")
    return 0


def _find_uv(scratch: Path) -> str:
    found = shutil.which("uv")
    if found:
        return found
    venv.create(scratch / "uv", with_pip=True)
    python = scratch / "uv" / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"], check=True)
    return str(scratch / "uv" / "bin" / "uv")


def _compile(uv: str, source: str, *options: str, output: str, stdin: str | None = None) -> None:
    command = [uv, "pip", "compile", source, *RESOLUTION, *options, "-o", f"{FOLDER}/{output}"]
    header = ["--custom-compile-command", "python3 requirements/update.py"]
    subprocess.run([*command, *header], cwd=ROOT, input=stdin, text=True, check=True)


def _compile_stdin(uv: str, requirements: str, *options: str) -> str:
    command = [uv, "pip", "compile", "-", *RESOLUTION, *options, "--no-header", "--no-annotate"]
    done = subprocess.run(command, cwd=ROOT, input=requirements, text=True, check=True, capture_output=True)
    return done.stdout


def _read(name: str) -> str:
    return (ROOT / FOLDER / name).read_text()


def _entries(text: str) -> list[tuple[str, str]]:
    """(name, line) of each requirement line of a compiled file."""
    lines = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    return [(line.split("==")[0].strip().lower(), line) for line in lines]


def _pinned(text: str, name: str) -> str:
    return next(line.split(" ;")[0].strip() for entry, line in _entries(text) if entry == name)


def _no_emit(names: set[str]) -> list[str]:
    return [option for name in sorted(names) for option in ("--no-emit-package", name)]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
