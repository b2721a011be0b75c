"""Two real models through the bot: `MODELS` = a tiny LTX-Video and a tiny seed model, random-weight
pipelines behind the real `ModelShelf`, picked with `/video model:`. Each video follows its model's frame
rule, and the status says when the GPU swaps. In-process only: one GPU swapping between models (over
Redis each worker holds its one model: `tests/queue/test_redis_models.py`, `tests/bot/test_models.py`)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import pytest

from generation.config import EngineSettings, OffloadMode
from generation.model_shelf import ModelShelf
from tests.discord_emulator import Message
from tests.fixtures.bot import RunningBot, StartBot, embed_text, finished

pytestmark = pytest.mark.local_only


def frames_of(message: Message) -> int:
    [video] = [attachment for attachment in message.attachments if attachment.filename.endswith(".mp4")]
    with av.open(io.BytesIO(video.data)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


@pytest.fixture
def models(tiny_ltx_dir: Path, tiny_model_dir: Path) -> str:
    return f"ltx={tiny_ltx_dir},classic={tiny_model_dir}"


@pytest.fixture
def shelf(models: str, tmp_path: Path) -> ModelShelf:
    """The generator a `MODELS` deployment builds (`queue_factory.diffusers_shelf`), on the CPU in float32."""
    from generation.generator import DiffusersGenerator

    engine = EngineSettings(
        _env_file=None,  # type: ignore[call-arg]
        models=models,
        model_variant=None,
        torch_dtype="float32",
        device="cpu",
        offload=OffloadMode.NONE,
        output_dir=tmp_path / "engine",
    )
    shelf = ModelShelf({entry.name: DiffusersGenerator(engine.for_model(entry)) for entry in engine.served_models})
    shelf.load()
    return shelf


async def video(running: RunningBot, **options: Any) -> Message:
    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", options)
    return await finished(running.emulator, interaction)


async def test_each_model_makes_its_video_by_its_own_frame_rule(
    start_bot: StartBot, shelf: ModelShelf, models: str
) -> None:
    running = await start_bot(shelf, models=models, video_sizes=["tiny:64x64"])

    ltx = await video(running, prompt="a kite", model="ltx", frames=16, steps=2)
    classic = await video(running, prompt="a kite", model="classic", frames=16, steps=2, size="square")

    assert "frames 16 → 17" in embed_text(ltx)
    assert (frames_of(ltx), frames_of(classic)) == (17, 16)
    assert "model classic" in embed_text(classic)
    assert shelf.held == "classic"
