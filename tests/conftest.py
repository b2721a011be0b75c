"""Test-wide configuration: every module in tests/fixtures/ is loaded as a pytest plugin.

Fixtures for each seam live in their own module there (the Discord emulator, the tiny pipeline, the
running bot), so a new one is added without touching this file.
"""

from __future__ import annotations

from pathlib import Path

pytest_plugins = sorted(
    f"tests.fixtures.{path.stem}"
    for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if not path.stem.startswith("_")
)
