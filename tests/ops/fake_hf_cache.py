"""A Hugging Face cache built on disk the way `huggingface_hub` lays it out, for offline tests.

<cache>/models--org--name/blobs/<sha>                   file contents
<cache>/models--org--name/refs/main                     the commit hash `main` points to
<cache>/models--org--name/snapshots/<commit>/<path>     symlinks into blobs/
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"

PIPELINE_FILES: dict[str, str] = {
    "model_index.json": json.dumps(
        {
            "_class_name": "TextToVideoSDPipeline",
            "scheduler": ["diffusers", "DDIMScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet3DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
        }
    ),
    "scheduler/scheduler_config.json": "{}",
    "text_encoder/config.json": "{}",
    "text_encoder/model.fp16.safetensors": "weights",
    "tokenizer/tokenizer_config.json": "{}",
    "tokenizer/vocab.json": "{}",
    "tokenizer/merges.txt": "",
    "unet/config.json": "{}",
    "unet/diffusion_pytorch_model.fp16.safetensors": "weights",
    "vae/config.json": "{}",
    "vae/diffusion_pytorch_model.fp16.safetensors": "weights",
}


def write_cached_model(hub_cache: Path, model_id: str, files: dict[str, str]) -> Path:
    """Put `files` into `hub_cache` as the `main` revision of `model_id`; return the snapshot folder."""
    repo = hub_cache / f"models--{model_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    for name, content in files.items():
        blob = repo / "blobs" / hashlib.sha256(content.encode()).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_text(content)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return snapshot
