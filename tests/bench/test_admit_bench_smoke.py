"""The admission benchmark at a tiny depth: each admission is told its own place and nothing else moves
for a new member, and the figures are real numbers."""

from __future__ import annotations

import math

from bench.admit_bench import admissions


async def test_a_tiny_depth_reports_cpu_and_one_event_per_new_members_admission() -> None:
    cpu_us, events = await admissions(depth=20, jobs=10, returning=False)

    assert math.isfinite(cpu_us)
    assert cpu_us >= 0
    assert events == 1.0  # its own JobQueued: a new member's job goes last, nobody else moves
