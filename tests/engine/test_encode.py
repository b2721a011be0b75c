"""encode_mp4 and fit_to_budget: MP4s that every Discord client plays inline, under the upload limit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from generation import encode
from generation.encode import encode_mp4, fit_to_budget, probe
from generation.errors import DoesNotFitError, EncodeError
from generation.results import VideoFile

ORANGE = (200, 60, 30)


def _solid(count: int, height: int, width: int) -> npt.NDArray[np.uint8]:
    frames = np.empty((count, height, width, 3), dtype=np.uint8)
    frames[...] = ORANGE
    return frames


def _noise(count: int, size: int) -> npt.NDArray[np.uint8]:
    return np.random.default_rng(0).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def _decoded(path: Path) -> list[npt.NDArray[np.uint8]]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _corrupt_what_the_encoder_writes(monkeypatch: pytest.MonkeyPatch, *, spare: Path | None = None) -> None:
    """Make every file the encoder writes (but `spare`) garbage by the time it is read back, as a bad disk would."""
    real_probe = encode.probe

    def probe_after_corruption(path: Path) -> VideoFile:
        if path != spare:
            path.write_bytes(b"not a video any more")
        return real_probe(path)

    monkeypatch.setattr(encode, "probe", probe_after_corruption)


def test_encoded_file_is_h264_yuv420p_with_every_frame_at_the_given_rate(tmp_path: Path) -> None:
    video = encode_mp4(_solid(8, 64, 96), 8, tmp_path / "clip.mp4")

    with av.open(str(video.path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.average_rate == 8
    assert len(_decoded(video.path)) == 8
    assert (video.width, video.height, video.num_frames, video.fps) == (96, 64, 8, 8)
    assert video.size_bytes == video.path.stat().st_size


def test_index_is_at_the_front_so_playback_starts_before_the_download_ends(tmp_path: Path) -> None:
    data = encode_mp4(_solid(4, 64, 64), 8, tmp_path / "clip.mp4").path.read_bytes()

    assert data.index(b"moov") < data.index(b"mdat")


def test_colours_survive_the_round_trip(tmp_path: Path) -> None:
    frame = _decoded(encode_mp4(_solid(2, 64, 64), 8, tmp_path / "clip.mp4").path)[0]

    assert np.abs(frame[32, 32].astype(int) - ORANGE).max() <= 3


def test_scale_upscales_the_frames(tmp_path: Path) -> None:
    video = encode_mp4(_solid(2, 64, 80), 8, tmp_path / "clip.mp4", scale=2.0)

    assert (video.width, video.height) == (160, 128)
    assert _decoded(video.path)[0].shape == (128, 160, 3)


def test_odd_sizes_lose_one_pixel_to_become_even(tmp_path: Path) -> None:
    video = encode_mp4(_solid(2, 65, 67), 8, tmp_path / "clip.mp4")

    assert (video.width, video.height) == (66, 64)


def test_writes_no_partial_file_when_encoding_fails(tmp_path: Path) -> None:
    with pytest.raises(EncodeError):
        encode_mp4(np.zeros((2, 64, 64), dtype=np.uint8), 8, tmp_path / "clip.mp4")

    assert list(tmp_path.iterdir()) == []


def test_an_encode_that_cannot_be_read_back_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _corrupt_what_the_encoder_writes(monkeypatch)

    with pytest.raises(EncodeError, match=r"clip\.mp4"):
        encode_mp4(_solid(2, 64, 64), 8, tmp_path / "clip.mp4")

    assert list(tmp_path.iterdir()) == []


def test_a_file_under_the_budget_is_copied_unchanged(tmp_path: Path) -> None:
    source = encode_mp4(_solid(4, 64, 64), 8, tmp_path / "clip.mp4")

    fitted = fit_to_budget(source.path, 10 * 2**20, tmp_path / "out.mp4")

    assert fitted.path.read_bytes() == source.path.read_bytes()


def test_a_file_over_the_budget_is_reencoded_below_it(tmp_path: Path) -> None:
    source = encode_mp4(_noise(32, 256), 8, tmp_path / "noisy.mp4", crf=0)
    budget = source.size_bytes // 8

    fitted = fit_to_budget(source.path, budget, tmp_path / "out.mp4")

    assert fitted.size_bytes <= budget
    assert fitted.num_frames == 32
    assert len(_decoded(fitted.path)) == 32


def test_a_file_can_be_fitted_in_place(tmp_path: Path) -> None:
    source = encode_mp4(_noise(16, 128), 8, tmp_path / "noisy.mp4", crf=0)
    budget = source.size_bytes // 4

    fitted = fit_to_budget(source.path, budget, source.path)

    assert probe(source.path).size_bytes == fitted.size_bytes <= budget
    assert sorted(path.name for path in tmp_path.iterdir()) == ["noisy.mp4"]


def test_an_impossible_budget_raises_does_not_fit_and_leaves_no_file(tmp_path: Path) -> None:
    source = encode_mp4(_noise(16, 128), 8, tmp_path / "noisy.mp4", crf=0)

    with pytest.raises(DoesNotFitError) as caught:
        fit_to_budget(source.path, 2_000, tmp_path / "out.mp4")

    assert caught.value.smallest_bytes > 2_000
    assert sorted(path.name for path in tmp_path.iterdir()) == ["noisy.mp4"]


def test_a_fitting_attempt_that_cannot_be_read_back_leaves_no_scratch_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = encode_mp4(_noise(16, 128), 8, tmp_path / "noisy.mp4", crf=0)
    _corrupt_what_the_encoder_writes(monkeypatch, spare=source.path)

    with pytest.raises(EncodeError):
        fit_to_budget(source.path, source.size_bytes // 4, tmp_path / "out.mp4")

    assert sorted(path.name for path in tmp_path.iterdir()) == ["noisy.mp4"]


def test_probe_rejects_a_file_that_is_not_a_video(tmp_path: Path) -> None:
    (tmp_path / "notes.mp4").write_text("not a video")

    with pytest.raises(EncodeError, match=r"notes\.mp4"):
        probe(tmp_path / "notes.mp4")


def test_importing_the_encoder_loads_neither_torch_nor_diffusers() -> None:
    # The bot imports this module to fit videos under the upload limit, and may run without torch.
    code = "import sys, generation.encode; print('torch' in sys.modules or 'diffusers' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "False"


def test_the_same_frames_make_the_same_bytes_in_a_process_allowed_one_cpu(tmp_path: Path) -> None:
    # x264 left to itself slices each frame once per CPU the process may use: a smaller host, a container
    # or a CPU limit would turn the same frames into another video. The budget's re-encode as well.
    frames = _noise(9, 256)
    np.save(tmp_path / "frames.npy", frames)
    here = encode_mp4(frames, 8, tmp_path / "here.mp4")
    budget = here.size_bytes // 4
    fitted_here = fit_to_budget(here.path, budget, tmp_path / "here-fitted.mp4")
    code = (
        "import os, sys, numpy as np; from pathlib import Path;"
        "from generation.encode import encode_mp4, fit_to_budget;"
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); folder = Path(sys.argv[1]);"
        "video = encode_mp4(np.load(folder / 'frames.npy'), 8, folder / 'one-cpu.mp4');"
        "fit_to_budget(video.path, int(sys.argv[2]), folder / 'one-cpu-fitted.mp4')"
    )

    subprocess.run([sys.executable, "-c", code, str(tmp_path), str(budget)], check=True, capture_output=True)

    assert (tmp_path / "one-cpu.mp4").read_bytes() == here.path.read_bytes()
    assert (tmp_path / "one-cpu-fitted.mp4").read_bytes() == fitted_here.path.read_bytes()
