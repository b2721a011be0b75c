"""`ModelShelf`: one `VideoGenerator` for several named models on one device, holding one at a time.

A GPU rarely fits two video models, so the shelf keeps one loaded and swaps when a batch needs another:
it unloads the one it holds (its memory freed before the next loads), then the other loads through its
own generator's usual path (for `DiffusersGenerator`, `from_pretrained` as for a single model), and the
load's seconds come back in the clips' `timings.load_s`. Which model a batch needs is its requests'
`model`; a request naming none runs on the model held (the first, the default, before any).

Blocking and for one thread, like every generator: in the in-process queue it lives in the GPU child
process (`generation.process_generator`), which the queue's GPU thread drives.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from generation.errors import GenerationError
from generation.protocol import CancelToken, ProgressCallback, VideoGenerator
from generation.request import VideoRequest
from generation.results import GeneratedClip

log = logging.getLogger(__name__)


class UnloadableGenerator(VideoGenerator, Protocol):
    """A generator that can let go of its model (and load it again on its next call)."""

    def unload(self) -> None:
        """Free the model's memory now; the next `load` or `generate` loads it again. Blocking."""
        ...


class ModelShelf:
    """Several named generators, one loaded at a time; see the module docstring.

    `models` maps each public name to its generator, the default first.
    """

    def __init__(self, models: Mapping[str, UnloadableGenerator]) -> None:
        if not models:
            raise ValueError("a model shelf needs at least one model")
        self._models = dict(models)
        self._default = next(iter(self._models))
        self._held: str | None = None

    @property
    def held(self) -> str | None:
        """The model loaded (or loading) now; None before the first load."""
        return self._held

    @property
    def max_batch_size(self) -> int:
        """The smallest of the models' batch limits: a batch of any model fits."""
        return min(generator.max_batch_size for generator in self._models.values())

    def memory_in_use(self) -> int | None:
        """The held model's accelerator memory (see `VideoGenerator.memory_in_use`)."""
        return self._models[self._held].memory_in_use() if self._held is not None else None

    def load(self) -> float:
        """Load the model held, or the default before any; the seconds it took (0 when resident)."""
        name = self._held or self._default
        self._held = name
        return self._models[name].load()

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        """Run `requests` (one shape, so one model) on their model, swapping to it first if another is held."""
        name = requests[0].model or self._held or self._default
        generator = self._models.get(name)
        if generator is None:
            raise GenerationError(f"the model `{name}` is not served here (served: {', '.join(self._models)})")
        if name != self._held:
            if self._held is not None:
                log.info("swapping models: unloading %s to load %s", self._held, name)
                self._models[self._held].unload()
            self._held = name
        return generator.generate(requests, on_progress, cancel)
