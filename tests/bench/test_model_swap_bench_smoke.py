"""The swap benchmark at its smallest: two swaps to each tiny model, through the queue's own generators."""

from __future__ import annotations

from pathlib import Path

from bench.model_swap_bench import measure


def test_each_model_gets_its_load_and_unload_seconds(tiny_model_dir: Path, tiny_ltx_dir: Path, tmp_path: Path) -> None:
    figures = measure({"seed": tiny_model_dir, "ltx": tiny_ltx_dir}, "cpu", repeats=2, output_dir=tmp_path)

    assert [figure.model for figure in figures] == ["seed", "ltx"]
    for figure in figures:
        assert figure.cold_load_s > 0
        assert figure.warm_load_s is not None
        assert figure.warm_load_s > 0
        assert figure.unload_s > 0
