"""Test-wide configuration: every module in tests/fixtures/ is loaded as a pytest plugin.

Fixtures for each seam live in their own module there (the Discord emulator, the tiny pipeline, the
running bot), so a new one is added without touching this file.
"""

from __future__ import annotations

import os
from pathlib import Path

# One torch thread per test process (and the processes it starts, which inherit the environment). The
# tiny pipeline gains nothing from more, and when every core is busy (CI's second run, a shared host)
# OpenMP's threads wait on each other at every operator: five tiny jobs through the bot took 22-35 s
# under `stress-ng --cpu 8` with two threads and under 4 s with one. Set before anything imports torch.
os.environ["OMP_NUM_THREADS"] = "1"

pytest_plugins = sorted(
    f"tests.fixtures.{path.stem}"
    for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if not path.stem.startswith("_")
)
