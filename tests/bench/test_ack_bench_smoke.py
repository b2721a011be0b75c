"""The acknowledgement benchmark end to end on a small burst: the real bot process, its GPU process and
the emulator, every figure read back from where it is measured (the emulator's record, the bot's report)."""

from __future__ import annotations

from pathlib import Path

from bench.ack_bench import run_burst


async def test_a_small_burst_is_measured_from_first_answer_to_shown_status(tmp_path: Path) -> None:
    result = await run_burst(6, "none", "process", 0.01, tmp_path, quiet_s=0.0)

    assert result.answered == 6
    assert result.messages + result.deferrals + result.refusals == 6
    assert result.violations == 0
    assert result.refusals == 0  # six members, one /video each: nothing to refuse
    assert 0.0 < result.p99_ms <= result.max_ms
    assert result.shown_p99_ms > 0.0
    assert result.cpu_ms_per_interaction_shown >= result.cpu_ms_per_interaction >= 0.0  # /proc counts 10 ms ticks
    assert result.gc_sum_ms >= result.gc_max_ms >= 0.0
