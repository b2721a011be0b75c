"""A tiny random-weight Wan 2.1 pipeline: the newer `callback_on_step_end` / `_interrupt` style, real classes.

Built like diffusers' own Wan tests (`WanTransformer3DModel`, `AutoencoderKLWan`, `UMT5EncoderModel`) and
with Wan 2.1's flow-matching UniPC scheduler, saved to disk and loaded by id like any other model. The
tokenizer is a character-level `tokenizers` model, since the real T5 one cannot be downloaded here.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from generation.config import EngineSettings, OffloadMode

if TYPE_CHECKING:
    from generation.generator import DiffusersGenerator


def build_tiny_wan_pipeline(path: Path) -> Path:
    """Save a tiny `WanPipeline` with fixed random weights to `path` and return it."""
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

    words = ["<pad>", "</s>", "<unk>", *string.ascii_lowercase]
    characters = Tokenizer(models.WordLevel({word: index for index, word in enumerate(words)}, unk_token="<unk>"))
    characters.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=characters, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(words), d_model=32, d_kv=8, d_ff=32, num_layers=2, num_heads=4,
            relative_attention_num_buckets=8,
        )
    )  # fmt: skip
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
    )  # fmt: skip
    # Wan 2.1's own scheduler configuration: flow matching, which DPM-Solver must not replace.
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    WanPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer, scheduler=scheduler
    ).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_wan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder holding the tiny Wan pipeline, built once per session."""
    return build_tiny_wan_pipeline(tmp_path_factory.mktemp("tiny-wan"))


@pytest.fixture(scope="session")
def tiny_wan_generator(tiny_wan_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DiffusersGenerator:
    """A loaded generator on the tiny Wan pipeline, on CPU in float32."""
    from generation.generator import DiffusersGenerator

    settings = EngineSettings(
        model_id=str(tiny_wan_dir),
        model_variant=None,
        torch_dtype="float32",
        device="cpu",
        offload=OffloadMode.NONE,
        output_dir=tmp_path_factory.mktemp("wan-videos"),
    )
    generator = DiffusersGenerator(settings)
    generator.load()
    return generator
