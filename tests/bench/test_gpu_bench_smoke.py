"""The GPU benchmark end to end on CPU with the tiny pipeline: report structure, finite figures, placement reset."""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from diffusers import TextToVideoSDPipeline

from bench.gpu_bench import main, parse_options, run_benchmark
from bench.gpu_measure import reset_placement
from bench.gpu_report import BenchReport, ConfigResult, Status, with_speedups

_POSITIVE_FIGURES = (
    "prepare_s",
    "warmup_s",
    "batch_s",
    "per_video_s",
    "videos_per_hour",
    "denoise_s",
    "decode_s",
    "unet_flops_per_step",
    "unet_tflops",
)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread for the test, then restore the count.

    The tiny model gains nothing from threads, and when another process holds a core, OpenMP's
    spin-waiting workers make a two-thread run up to ten times slower.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.usefixtures("one_torch_thread")
def test_tiny_run_writes_a_complete_report(tmp_path: Path) -> None:
    out = tmp_path / "results" / "cpu.json"
    configs = ["offload", "resident", "batch2", "no_slicing", "compiled"]

    report = main(["--tiny", "--out", str(out), "--configs", *configs, "--runs", "2", "--frames", "4", "--steps", "2"])

    written = json.loads(out.read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(dataclasses.asdict(report)))
    assert written["schema_version"] == 1
    assert written["environment"]["device"] == "cpu"
    assert written["environment"]["torch_version"] == torch.__version__
    workload = written["workload"]
    expected = {"tiny": True, "num_frames": 4, "width": 64, "height": 64, "steps": 2, "runs": 2}
    assert {key: workload[key] for key in expected} == expected
    assert workload["scheduler"] == "DPMSolverMultistepScheduler"
    assert all(count > 0 for count in workload["parameters"].values())
    results = {config["name"]: config for config in written["configs"]}
    assert list(results) == configs
    # Offload and compile need CUDA: skipped with a reason, never reported as measured.
    for name in ("offload", "compiled"):
        assert results[name]["status"] == "skipped"
        assert "CUDA" in results[name]["reason"]
        assert results[name]["per_video_s"] is None
    for name in ("resident", "batch2", "no_slicing"):
        measured = results[name]
        assert measured["status"] == "ok", measured["reason"]
        for field in _POSITIVE_FIGURES:
            assert math.isfinite(measured[field]), field
            assert measured[field] > 0, field
        assert len(measured["runs_s"]) == 2
        assert measured["per_video_s"] == pytest.approx(measured["batch_s"] / measured["batch_size"])
        # No CUDA: no memory figures, no peak to compare with, and no baseline to speed up from.
        assert measured["peak_allocated_bytes"] is None
        assert measured["peak_fraction"] is None
        assert measured["speedup"] is None
    assert results["batch2"]["batch_size"] == 2
    assert results["no_slicing"]["vae_slicing"] is False
    # Two videos run the UNet on twice the latents (each with its guidance half).
    assert results["batch2"]["unet_flops_per_step"] == 2 * results["resident"]["unet_flops_per_step"]


@pytest.mark.usefixtures("one_torch_thread")
def test_the_report_is_handed_over_after_every_configuration_so_a_cut_short_run_keeps_its_figures() -> None:
    configs = ["--configs", "resident", "batch2"]
    options = parse_options(["--tiny", *configs, "--runs", "1", "--frames", "4", "--steps", "1"])
    updates: list[BenchReport] = []

    final = run_benchmark(options, on_update=updates.append)

    assert [[r.name for r in update.configs] for update in updates] == [["resident"], ["resident", "batch2"]]
    assert [update.complete for update in updates] == [False, True]
    assert updates[-1] == final


def test_writing_a_report_replaces_the_previous_file_whole(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    out.write_text("{}", encoding="utf-8")
    options = parse_options(["--tiny", "--configs", "resident", "--runs", "1", "--frames", "4", "--steps", "1"])

    run_benchmark(options, on_update=lambda report: report.write_json(out))

    assert json.loads(out.read_text(encoding="utf-8"))["complete"] is True
    assert [path.name for path in tmp_path.iterdir()] == ["run.json"]


def test_speedups_are_videos_per_hour_against_the_baseline() -> None:
    def result(name: str, videos_per_hour: float | None) -> ConfigResult:
        status = Status.OK if videos_per_hour else Status.SKIPPED
        return ConfigResult(name, name, "none", 1, True, False, status, videos_per_hour=videos_per_hour)

    speedups = with_speedups([result("offload", 100.0), result("resident", 250.0), result("compiled", None)], "offload")

    assert [r.speedup for r in speedups] == [1.0, 2.5, None]
    assert [r.speedup for r in with_speedups([result("resident", 250.0)], "offload")] == [None]


def test_reset_placement_takes_off_offload_hooks_and_slicing() -> None:
    from tests.fixtures.tiny_pipeline import build_tiny_pipeline

    with tempfile.TemporaryDirectory() as folder:
        pipe = TextToVideoSDPipeline.from_pretrained(build_tiny_pipeline(Path(folder)))  # type: ignore[no-untyped-call]
    # accelerate's hooks work with the CPU as "the GPU" too, which is enough to see them removed.
    pipe.enable_model_cpu_offload(device="cpu")
    pipe.vae.enable_slicing()
    assert any(hasattr(module, "_hf_hook") for module in pipe.unet.modules())

    reset_placement(pipe)

    for name in ("unet", "vae", "text_encoder"):
        assert not any(hasattr(module, "_hf_hook") for module in getattr(pipe, name).modules()), name
    assert pipe._all_hooks == []
    assert pipe.vae.use_slicing is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--frames", "300"], "num_frames must be between 1 and 257"),
        (["--size", "250"], "width must be a multiple of 8"),
        (["--runs", "0"], "--runs must be at least 1"),
    ],
)
def test_rejects_a_workload_before_building_the_model(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_options(argv)

    assert message in capsys.readouterr().err
