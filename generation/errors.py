"""Every error the generation engine and its queue raise on purpose, in one place.

    EngineError                     base class; `str(err)` is safe to show to the user verbatim
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
        ├── QuotaExceededError      this user's daily quota is used up (says when it frees up)
        ├── QueuePausedError        an admin paused the queue
        ├── QueueClosedError        the queue is shutting down
        ├── QueueBusyError          the queue's store (Redis) has no room for more right now
        ├── JobNotFoundError        no such job (or not yours)
        │   └── DamagedJobError     its stored record fails validation (Redis data is input)
        └── SubscriberLagged        an event subscriber fell too far behind and was disconnected

Anything else that escapes is a bug: callers log it with the job id and tell the user something
generic.
"""

from __future__ import annotations


def one_line(error: BaseException) -> str:
    """The first line of an error's message (its type when it has none), at most 300 characters: what a
    one-line report of a third-party failure shows."""
    text = str(error).strip() or type(error).__name__
    first = text.splitlines()[0].strip()
    return first if len(first) <= 300 else f"{first[:297]}..."


def shown(value: object) -> str:
    """A value read from storage as a message may show it: quoted, escaped, at most 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


class EngineError(Exception):
    """Base class of the engine's errors; the message is written for the end user."""


class InvalidRequestError(EngineError, ValueError):
    """A request field is outside what the engine accepts."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field} must be {allowed} (got {value!r})")


class ModelLoadError(EngineError):
    """The pipeline could not be loaded."""


class GenerationError(EngineError):
    """A single job failed; the worker keeps serving others."""


class GenerationCancelled(GenerationError):
    """The job was cancelled; raised from inside the denoising loop."""


class GenerationTimeout(GenerationError):
    """The job ran past its time limit."""


class OutOfMemoryError(GenerationError):
    """The GPU ran out of memory for this job."""


class EncodeError(EngineError):
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


class QueueError(EngineError):
    """The queue refused a job or cannot act on it."""


class QueueFullError(QueueError):
    """The global queue cap is reached."""


class UserQueueLimitError(QueueError):
    """The user already has the maximum number of jobs waiting."""


class QuotaExceededError(QueueError):
    """The user's daily quota is used up; `resets_at` (epoch seconds, on the queue's clock) is when the
    next video becomes possible."""

    def __init__(self, used: int, limit: int, resets_at: float) -> None:
        self.used = used
        self.limit = limit
        self.resets_at = resets_at
        super().__init__(f"you have made {used} of your {limit} videos for today; the next one is possible later")


class QueuePausedError(QueueError):
    """The queue is paused by an admin."""


class QueueClosedError(QueueError):
    """The queue is shutting down and accepts no new work."""


class QueueBusyError(QueueError):
    """The queue's store refused the job for want of room (Redis at its memory limit)."""


class JobNotFoundError(QueueError):
    """No job with that id (or it belongs to someone else)."""


class DamagedJobError(JobNotFoundError):
    """A job's stored record (or one of its events) fails the checks a new job passes: it is not used."""

    def __init__(self, job_id: object, reason: str) -> None:
        self.job_id = job_id
        self.reason = reason
        super().__init__(f"the queue's record of job {shown(job_id)} is damaged ({reason}), so it is not used")


class SubscriberLagged(QueueError):
    """The subscriber fell too far behind and was disconnected; subscribe again to continue."""
