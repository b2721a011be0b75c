"""`MoreModels`: a real queue that also lists models it does not hold, for the bot's side of several models.

Today's queues serve one model each (`JobQueue.models()`); the bot's choice among several (the menu, the
refusals naming another model, defaults, Remix changing the model) is specified through this until the
multi-model queues exist. Every call but `models()` is the real queue's, so a job for any listed model
runs on the one model the queue holds. With `loads`, each job starts as if the GPU first loaded that
model (`JobStarted.loading`), as a swap between models will announce it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from generation.queue.interface import JobEvent, JobQueue, JobStarted, ServedModel


class MoreModels:
    """`inner`'s served models followed by `extra`; everything else is `inner`'s (see the module docstring)."""

    def __init__(self, inner: JobQueue, extra: tuple[ServedModel, ...], *, loads: str | None = None) -> None:
        self.inner = inner
        self.extra = extra
        self.loads = loads

    async def models(self) -> tuple[ServedModel, ...]:
        """The real queue's models, then the extra ones."""
        return (*await self.inner.models(), *self.extra)

    def watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        """The real queue's events of the job, its start announcing `loads`."""
        return self._watch(job_id)

    async def _watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        async for event in self.inner.watch(job_id):
            if self.loads is not None and isinstance(event, JobStarted):
                event = dataclasses.replace(event, loading=self.loads)
            yield event

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
