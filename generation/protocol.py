"""The seam between the queue and the GPU: a small, blocking generator interface.

The queue worker calls `generate` on one dedicated thread; nothing here may be called from the event
loop. A remote backend (another process or host) implements the same Protocol, so the queue and the
bot never learn where the GPU is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from generation.errors import GenerationCancelled
from generation.request import VideoRequest
from generation.results import GeneratedClip

ProgressCallback = Callable[[int, int], None]
"""Called as `(step, total_steps)` after each denoising step, on the generator's thread."""


class CancelToken:
    """Thread-safe cooperative cancellation, checked by the generator between denoising steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the running generation to stop at its next step."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once `cancel` was called."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise `GenerationCancelled` if cancellation was requested."""
        if self._event.is_set():
            raise GenerationCancelled("cancelled")


class VideoGenerator(Protocol):
    """Turns validated requests into frames. Implementations are blocking and not thread-safe."""

    @property
    def max_batch_size(self) -> int:
        """How many same-shape requests one `generate` call accepts (1 = no batching)."""
        ...

    def memory_in_use(self) -> int | None:
        """Bytes of accelerator memory allocated now, or None without an accelerator. Thread-safe."""
        ...

    def load(self) -> float:
        """Load the model if it is not loaded yet; return the seconds it took (0 when resident). Blocking."""
        ...

    def generate(
        self,
        requests: Sequence[VideoRequest],
        on_progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[GeneratedClip]:
        """Run one pipeline call for `requests` (all with the same `shape`); one clip per request, in order.

        Blocking. Draws a seed for each request without one. Raises `GenerationCancelled` when `cancel`
        fires between steps, `OutOfMemoryError` when the GPU runs out of memory, `GenerationError`
        for other failures; the generator stays usable after any of them.
        """
        ...


@runtime_checkable
class Haltable(Protocol):
    """A generator whose blocking calls can be ended from another thread (one in a child process is
    killed): how a shutdown stops a model load, which has no cancel token, or a call deaf to its token."""

    def halt(self) -> None:
        """End the call in progress now and refuse later ones; both raise `GenerationCancelled`. Thread-safe."""
        ...
