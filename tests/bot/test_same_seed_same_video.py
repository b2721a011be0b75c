"""Same picture, prompt and seed: the same MP4 to the byte, whoever asks and wherever it is encoded.

Through the real bot, queue and Discord emulator on the tiny LTX image-to-video pipeline, and through
`python -m generation` in a process that may use one CPU only, as on a smaller host, in a container or
under a service's CPU limit: x264 left to pick its own thread count would cut the frames differently
there, and the same frames would come out as other bytes and other pixels.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from generation.generator import DiffusersGenerator
from tests.fixtures.bot import StartBot, finished
from tests.fixtures.pictures import solid_png
from tests.ops.entry_points import clean_environment
from tests.patience import PATIENCE_S

SIZE = 128
"""Large enough that x264 left to itself would slice each frame once per CPU."""
SEED = 1234


def decoded_frames(mp4: bytes) -> npt.NDArray[np.uint8]:
    """Every frame of `mp4` as RGB."""
    with av.open(io.BytesIO(mp4)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def one_cpu_command(*args: str) -> list[str]:
    """`python -m generation args...` in a process allowed on one CPU only."""
    program = (
        "import os, runpy, sys; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "sys.argv[0] = 'generation'; runpy.run_module('generation', run_name='__main__')"
    )
    return [sys.executable, "-c", program, *args]


async def test_the_same_request_and_seed_make_the_same_mp4_for_every_member_and_for_the_command_line(
    start_bot: StartBot, tiny_i2v_generator: DiffusersGenerator, tiny_ltx_i2v_dir: Path, tmp_path: Path
) -> None:
    running = await start_bot(tiny_i2v_generator, model_id=str(tiny_ltx_i2v_dir), video_sizes=[f"square:{SIZE}x{SIZE}"])
    picture = solid_png((200, 120, 40), size=(160, 120))
    videos = []
    for member in (running.alice, running.bob):
        image = running.emulator.attachment("sunset.png", picture, "image/png")
        options = {"prompt": "waves roll in", "image": image, "steps": 2, "frames": 9, "seed": SEED}
        interaction = await running.emulator.invoke_slash(member, running.channel, "video", options)
        videos.append((await finished(running.emulator, interaction)).attachments[0].data)
    (tmp_path / "sunset.png").write_bytes(picture)
    command = one_cpu_command(
        "waves roll in", "--image", "sunset.png", "--seed", str(SEED), "--steps", "2", "--frames", "9",
        "--width", str(SIZE), "--height", str(SIZE), "--model", str(tiny_ltx_i2v_dir), "--device", "cpu",
        "--dtype", "float32", "--offload", "none", "-o", "cli.mp4",
    )  # fmt: skip

    done = await asyncio.to_thread(
        subprocess.run, command, cwd=tmp_path, env=clean_environment(), capture_output=True, text=True,
        timeout=2 * PATIENCE_S,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    alices, bobs = videos
    command_lines = (tmp_path / "cli.mp4").read_bytes()
    assert np.array_equal(decoded_frames(alices), decoded_frames(bobs))
    assert np.array_equal(decoded_frames(alices), decoded_frames(command_lines))
    assert alices == bobs == command_lines
