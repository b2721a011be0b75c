"""Every error the generation side raises on purpose, in one place.

    VideoBotError                   base class; `str(err)` is safe to show to the user verbatim
    ├── InvalidRequestError         a request field is out of range (names field, value, allowed)
    ├── ModelLoadError              the pipeline could not be loaded (bad id, offline, missing files)
    ├── GenerationError             one job failed while running
    │   ├── GenerationCancelled     stopped on request between denoising steps
    │   ├── GenerationTimeout       exceeded the configured time limit (watchdog)
    │   └── OutOfMemoryError        the GPU ran out of memory, even after retrying smaller
    ├── EncodeError                 frames could not be encoded
    │   └── DoesNotFitError         the video cannot be squeezed under the byte budget
    └── QueueError                  the queue refused or cannot find a job
        ├── QueueFullError          the global cap is reached
        ├── UserQueueLimitError     this user already has the maximum number of jobs waiting
        ├── QueuePausedError        an admin paused the queue
        ├── QueueClosedError        the queue is shutting down
        └── JobNotFoundError        no such job (or not yours)

Anything else that escapes is a bug: callers log it with the job id and tell the user something
generic.
"""

from __future__ import annotations


class VideoBotError(Exception):
    """Base class; the message is written for the end user."""


class InvalidRequestError(VideoBotError, ValueError):
    """A request field is outside what the engine accepts."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field} must be {allowed} (got {value!r})")


class ModelLoadError(VideoBotError):
    """The pipeline could not be loaded."""


class GenerationError(VideoBotError):
    """A single job failed; the worker keeps serving others."""


class GenerationCancelled(GenerationError):
    """The job was cancelled; raised from inside the denoising loop."""


class GenerationTimeout(GenerationError):
    """The job ran past its time limit."""


class OutOfMemoryError(GenerationError):
    """The GPU ran out of memory for this job."""


class EncodeError(VideoBotError):
    """Frames could not be turned into an MP4."""


class DoesNotFitError(EncodeError):
    """Even the smallest re-encode is larger than the byte budget."""

    def __init__(self, budget_bytes: int, smallest_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.smallest_bytes = smallest_bytes
        super().__init__(
            f"the video is {smallest_bytes / 2**20:.1f} MiB even at the lowest quality, "
            f"over the {budget_bytes / 2**20:.1f} MiB upload limit; try fewer frames or a smaller size"
        )


class QueueError(VideoBotError):
    """The queue refused a job or cannot act on it."""


class QueueFullError(QueueError):
    """The global queue cap is reached."""


class UserQueueLimitError(QueueError):
    """The user already has the maximum number of jobs waiting."""


class QueuePausedError(QueueError):
    """The queue is paused by an admin."""


class QueueClosedError(QueueError):
    """The queue is shutting down and accepts no new work."""


class JobNotFoundError(QueueError):
    """No job with that id (or it belongs to someone else)."""
