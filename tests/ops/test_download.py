"""`python -m generation download`: what it fetches, and how it proves a cached model offline.

No test touches the network: the command runs with HF_HUB_OFFLINE=1 against a cache the test builds.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from generation.config import EngineSettings
from generation.download import NETWORK_FIX, check_model_available, select_files
from tests.ops.entry_points import Finished, clean_environment, run_module
from tests.ops.fake_hf_cache import PIPELINE_FILES, write_cached_model
from tests.patience import PATIENCE_S

ROOT = Path(__file__).resolve().parents[2]
MODEL = "acme/tiny-t2v"

# The seed model's repository, abridged: a diffusers layout next to the original checkpoints.
DAMO_FILES = [
    ".gitattributes",
    "README.md",
    "VQGAN_autoencoder.pth",
    "open_clip_pytorch_model.bin",
    "text2video_pytorch_model.pth",
    "model_index.json",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.fp16.safetensors",
    "text_encoder/model.safetensors",
    "text_encoder/pytorch_model.bin",
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.bin",
    "unet/diffusion_pytorch_model.fp16.bin",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
    "vae/flax_model.msgpack",
]


def test_select_files_takes_configs_tokenizer_and_the_variant_weights_only() -> None:
    assert select_files(DAMO_FILES, "fp16") == [
        ".gitattributes",
        "README.md",
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.fp16.safetensors",
        "tokenizer/merges.txt",
        "tokenizer/special_tokens_map.json",
        "tokenizer/tokenizer_config.json",
        "tokenizer/vocab.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",  # no fp16 file: diffusers falls back to the plain one
    ]


def test_select_files_without_a_variant_takes_the_plain_safetensors() -> None:
    weights = [name for name in select_files(DAMO_FILES, None) if name.endswith((".safetensors", ".bin"))]
    assert weights == [
        "text_encoder/model.safetensors",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
    ]


def test_select_files_keeps_every_shard_of_the_chosen_weight_set() -> None:
    files = [
        "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors",
        "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors",
        "unet/diffusion_pytorch_model.safetensors.index.fp16.json",
        "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
        "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
    ]
    assert select_files(files, "fp16") == [
        "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors",
        "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors",
        "unet/diffusion_pytorch_model.safetensors.index.fp16.json",
    ]


def _download(hf_home: Path, *args: str) -> Finished:
    """`python -m generation download args...`, offline, with the cache at `hf_home`."""
    env = clean_environment(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", MODEL_ID=MODEL)
    return run_module("generation", "download", *args, cwd=hf_home, env=env)


def test_offline_download_succeeds_when_the_model_is_complete_in_the_cache(tmp_path: Path) -> None:
    write_cached_model(tmp_path / "hub", MODEL, PIPELINE_FILES)

    done = _download(tmp_path)

    assert done.status == 0, done.stderr
    assert f"Model '{MODEL}' is complete in the cache" in done.stdout


def test_offline_download_fails_naming_the_model_and_the_fix_when_it_is_not_cached(tmp_path: Path) -> None:
    done = _download(tmp_path)

    assert done.status != 0
    assert f"Model '{MODEL}' is not in the Hugging Face cache" in done.stderr
    assert "run `python -m generation download` with network access" in done.stderr
    assert "mount a cache that holds the model at HF_HOME" in done.stderr


def test_offline_download_names_the_component_whose_weights_are_missing(tmp_path: Path) -> None:
    files = {name: text for name, text in PIPELINE_FILES.items() if not name.startswith("unet/diffusion")}
    write_cached_model(tmp_path / "hub", MODEL, files)

    done = _download(tmp_path)

    assert done.status != 0
    assert f"Model '{MODEL}' is incomplete" in done.stderr
    assert "missing unet/ weights" in done.stderr


def test_the_model_option_overrides_the_configured_model(tmp_path: Path) -> None:
    write_cached_model(tmp_path / "hub", "acme/other", PIPELINE_FILES)

    done = _download(tmp_path, "--model", "acme/other")

    assert done.status == 0, done.stderr
    assert "Model 'acme/other' is complete" in done.stdout


def test_a_cached_model_is_available_offline(tmp_path: Path) -> None:
    write_cached_model(tmp_path, MODEL, PIPELINE_FILES)

    assert check_model_available(EngineSettings(model_id=MODEL), cache_dir=tmp_path, offline=True) is None


def test_an_uncached_model_is_unavailable_offline(tmp_path: Path) -> None:
    problem = check_model_available(EngineSettings(model_id=MODEL), cache_dir=tmp_path, offline=True)

    assert problem is not None
    assert MODEL in problem
    assert "python -m generation download" in problem


def test_an_uncached_model_is_available_online_because_the_engine_downloads_it(tmp_path: Path) -> None:
    assert check_model_available(EngineSettings(model_id=MODEL), cache_dir=tmp_path, offline=False) is None


def test_a_local_folder_with_a_model_index_is_available(tmp_path: Path) -> None:
    snapshot = write_cached_model(tmp_path, MODEL, PIPELINE_FILES)

    assert check_model_available(EngineSettings(model_id=str(snapshot)), offline=True) is None


def test_a_local_folder_without_a_model_index_is_unavailable(tmp_path: Path) -> None:
    problem = check_model_available(EngineSettings(model_id=str(tmp_path)), offline=False)

    assert problem is not None
    assert f"MODEL_ID: the folder {str(tmp_path)!r} is missing" in problem
    assert "model_index.json" in problem


@pytest.mark.skipif(not (ROOT / "generation" / "__main__.py").exists(), reason="engine CLI not written yet")
def test_the_engine_cli_dispatches_download_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "generation", "download", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=2 * PATIENCE_S,
    )

    assert done.returncode == 0, done.stderr
    assert "--revision" in done.stdout


def test_a_hub_that_cannot_be_reached_is_one_line_with_the_fix(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}"  # closed once the block ends: refused
    env = clean_environment(HF_HOME=str(tmp_path), HF_ENDPOINT=endpoint, MODEL_ID=MODEL)

    done = run_module("generation", "download", cwd=tmp_path, env=env)

    assert done.status == 1
    assert done.stderr_lines == [
        f"Could not download model '{MODEL}': the Hugging Face Hub at {endpoint} cannot be reached ([Errno 111] "
        f"Connection refused). Fix: {NETWORK_FIX}."
    ]
