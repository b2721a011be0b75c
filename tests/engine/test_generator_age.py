"""A generator's three-hundredth video costs what its first did: nothing it keeps grows with the calls made.

Each call makes a step hook, a progress callback and a seeded `torch.Generator` per request; none of
them, nor hooks on the pipeline's modules, nor tensors, may outlive the call. `bench/soak_bench.py`
watches the same through the whole bot; this pins the engine's part of it.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

from generation.generator import DiffusersGenerator
from generation.protocol import CancelToken
from generation.request import VideoRequest

CALLS = 300
WARM_UP = 20
"""Calls before counting: the first ones fill lazily built tables (torch's dispatch caches among them)."""


def _objects() -> int:
    gc.collect()
    return len(gc.get_objects())


def _hooks(pipe: Any) -> int:
    modules = [module for name in ("unet", "vae", "text_encoder") for module in getattr(pipe, name).modules()]
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in modules)


@pytest.mark.slow
def test_hundreds_of_calls_leave_the_objects_and_hooks_the_generator_keeps_as_they_were(
    tiny_generator: DiffusersGenerator,
) -> None:
    request = VideoRequest("a cat surfing", num_frames=2, width=64, height=64, steps=1)
    assert tiny_generator.pipeline is not None
    pipe = tiny_generator.pipeline.pipe
    for _ in range(WARM_UP):
        tiny_generator.generate([request], lambda done, total: None, CancelToken())
    objects, hooks = _objects(), _hooks(pipe)

    for _ in range(CALLS):
        tiny_generator.generate([request], lambda done, total: None, CancelToken())

    assert _hooks(pipe) == hooks
    # A handful of objects may come and go (the interpreter's own caches); one kept per call would be hundreds.
    assert _objects() - objects < CALLS // 10
