"""The soak benchmark end to end at a tiny size: the real bot process, its GPU process, the emulator."""

from __future__ import annotations

import math

import pytest

from bench.soak_bench import entry


@pytest.mark.slow
def test_a_tiny_soak_reports_every_block_and_the_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    result = entry(["--videos", "20", "--every", "10", "--members", "5", "--waiting", "4"])

    assert (result.lost, result.violations) == (0, 0)
    assert len(result.blocks) == 2
    assert result.blocks[0].videos >= 10
    assert result.blocks[-1].videos >= 20
    for block in result.blocks:
        figures = (
            block.wall_s_per_video,
            block.bot_cpu_s_per_video,
            block.gpu_cpu_s_per_video,
            block.driver_cpu_s_per_video,
            block.bot_rss_mib,
            block.gpu_rss_mib,
        )
        assert all(math.isfinite(figure) and figure > 0 for figure in figures), block
        assert (block.run_s_per_video or 0) > 0
    assert "last/first" in capsys.readouterr().out
