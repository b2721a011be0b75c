"""`RedisJobSource`: the `JobSource` a GPU worker talks through when the queue lives in Redis.

Every write goes through one ordered outbox (a task draining a queue), so the worker's calls reach
Redis in the order it made them (progress before the end, the end before the next take) while
`progress` and `end(wait=False)` never make it wait.

Each batch taken is held under a fencing token and a lease. A tick every `lease_s / 3` on the tick
clock heartbeats (extending the leases, refreshing the worker's record in the registry, learning of
cancellations it missed and of jobs it lost) and reclaims the jobs of workers that stopped
heartbeating. Cancellations arrive on the `cancel` channel: "stop:{id}" stops the running call at its
next step (the cancel listeners are told), "drop:{id}" only means the job is no longer wanted.

A finished video's bytes are stored under `video:{id}:{token}` (`codec.video_key`, the key the END
script records) with a TTL before its end is recorded; the bot fetches them to deliver. A refused end
(the job was reclaimed and ended elsewhere) deletes them.

A write Redis refuses (out of memory) or whose answer times out — the video, a start, progress, an
end — is sent again with backoff for up to one lease, while the tick keeps the job's lease. Each is
idempotent (a take and an end carry a request id, an attempt is its own), so one that ran although its
answer was lost is not applied twice. A video that still cannot be stored ends its job failed, with
that reason. A write that still cannot be recorded makes the worker let go of its jobs: it stops
heartbeating them, so their leases run out and the queue reclaims them. Nothing is left running.

The picture an image-to-video job animates lives on the bot's host; the bot keeps its bytes under
`image:{id}` until the job ends. A worker copies them into `image_dir` when it takes the job (the
request it runs names that copy) and deletes the copy when the job leaves it. The video an extension
continues (`VideoRequest.extend`) travels the same way, under the same key (a job has one or the other).

A taken job's record is input (see `codec`): one that fails its checks is reported and, when its id is
a job id, ended failed (`DAMAGED_JOB`) so its user hears; one whose id is not is left to its lease.
Only checked ids name files, and every file written or deleted resolves inside `image_dir`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import redis.asyncio as redis

from generation.clock import Clock
from generation.errors import DamagedJobError
from generation.queue.interface import JobInfo, actor_text
from generation.queue.jobfiles import inside, is_job_id, job_file
from generation.queue.reasons import DAMAGED_JOB, PICTURE_GONE, VIDEO_GONE, VIDEO_NOT_STORED
from generation.queue.redis.codec import Raw, decode_info, encode_ending, video_key
from generation.queue.redis.registry import ADVERT_MODEL, ADVERT_PROFILE, GONE_KEPT_S
from generation.queue.redis.verbs import QueueVerbs
from generation.queue.source import BatchLimits, Ending, Failed, Succeeded

log = logging.getLogger(__name__)

_DAMAGED: Final = Failed(DAMAGED_JOB)
_FIRST_RETRY_S: Final = 0.25
_T = TypeVar("_T")

#: What a write may meet and still succeed when sent again: Redis full, or its answer late or cut off.
_TRANSIENT: Final = (redis.OutOfMemoryError, redis.TimeoutError, redis.ConnectionError, OSError)


class _NotRecorded(Exception):
    """A write still refused (or unanswered) after a lease of retries."""


@dataclass(frozen=True)
class SourceSettings:
    """How a worker holds jobs: its name in the registry, crash and ETA limits, how long videos stay, and
    the model it serves: its public `model` name (it takes jobs naming it, and those naming none; '':
    only those) and that model's `profile` name, both advertised in its registry record."""

    worker: str
    max_attempts: int
    eta_window: int
    video_ttl_s: int
    image_dir: Path = Path("outputs") / "images"
    model: str = ""
    profile: str = ""


class _Outbox:
    """Writes to Redis one at a time, in the order they were handed in."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._drain(), name="redis-worker-outbox")

    def put(self, write: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((write, future))
        return future

    async def close(self) -> None:
        await self.put(_nothing)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _drain(self) -> None:
        while True:
            write, future = await self._queue.get()
            try:
                result = await write()
            except Exception as error:
                log.exception("a write to the queue failed")
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # a fire-and-forget write's failure is logged above
            else:
                if not future.done():
                    future.set_result(result)


async def _nothing() -> None:
    return None


class RedisJobSource:
    """The queue in Redis as one worker sees it; see the module docstring. `start` before use."""

    def __init__(
        self,
        commands: QueueVerbs,
        raw: redis.Redis,
        settings: SourceSettings,
        clock: Clock,
        *,
        tick_clock: Clock | None = None,
        describe: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        self._commands = commands
        self._raw = raw
        self._settings = settings
        self._tick_clock = tick_clock or clock
        self._describe = describe
        self._outbox = _Outbox()
        self._held: dict[str, str] = {}  # job id -> fencing token, until its end is written
        self._live: set[str] = set()  # held and not ended by this worker
        self._unwanted: set[str] = set()
        self._listeners: list[Callable[[str], None]] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._attempts = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub = commands.client.pubsub()

    @property
    def name(self) -> str:
        """The worker's name in the registry."""
        return self._settings.worker

    async def start(self) -> None:
        """Listen for wake-ups and cancellations, register the worker, and start the tick."""
        await self._pubsub.subscribe(self._commands.key("wake"), self._commands.key("cancel"))
        # Wait for both confirmations, so nothing published from here on is missed.
        confirmed = 0
        while confirmed < 2:
            message = await self._pubsub.get_message(timeout=30.0)
            if message is None:
                raise ConnectionError("Redis did not confirm the worker's subscriptions")
            confirmed += message["type"] == "subscribe"
        self._outbox.start()
        await self.heartbeat()
        self._tasks = [
            asyncio.create_task(self._listen(), name="redis-worker-listen"),
            asyncio.create_task(self._tick(), name="redis-worker-tick"),
        ]

    def stop(self) -> None:
        """Hand out no more batches: `take` answers None from now on."""
        self._stopping = True
        self._wake.set()

    async def close(self) -> None:
        """Write what is pending, mark the worker stopped in the registry and stop listening."""
        self.stop()
        await self._outbox.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):  # listed as stopped until it comes back (see `registry`)
            record = self._commands.key("worker:", self.name)
            async with self._commands.client.pipeline(transaction=True) as pipe:
                pipe.hset(record, mapping={"state": "stopped", "current": ""})
                pipe.expire(record, GONE_KEPT_S)  # an HSET of a record that already expired makes a new one
                if self._settings.model:  # its model's ETAs count it no more
                    pipe.zrem(self._commands.key("lane:", self._settings.model, ":workers"), self.name)
                await pipe.execute()
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
        await self._commands.client.aclose()
        await self._raw.aclose()

    # -- JobSource ------------------------------------------------------------------------------

    async def take(self, limits: BatchLimits) -> list[JobInfo] | None:
        """The next batch in the fair order, held under a new token; None once stopping."""
        by_shape = {_shape_key(shape): size for shape, size in limits.by_shape.items()}
        request = uuid.uuid4().hex  # kept until answered: a take whose answer was lost gets its batch again
        while not self._stopping:
            self._wake.clear()
            try:
                take = functools.partial(
                    self._commands.take, self.name, self._settings.model, limits.default, by_shape, request
                )
                rows, token = await self._outbox.put(take)
            except (redis.RedisError, OSError):
                # Redis is away (restarting, network cut): the worker waits for it rather than dying.
                await self._tick_clock.sleep(self._commands.lease_s / 3)
                continue
            request = uuid.uuid4().hex
            if rows:
                infos = [info for row in rows if (info := await self._checked(row, token)) is not None]
                for info in infos:
                    self._held[info.job_id] = token
                    self._live.add(info.job_id)
                log.info("batch taken token=%s job_ids=%s", token, ",".join(i.job_id for i in infos))
                runnable = [info for info in [await self._with_local_image(info) for info in infos] if info]
                if runnable:
                    return runnable
                continue
            await self._wake.wait()
        return None

    async def _checked(self, row: Raw, token: str) -> JobInfo | None:
        """A taken row as a job to run; None for a damaged one, reported and, if it has a job id, failed."""
        try:
            return decode_info(row)
        except DamagedJobError as damaged:
            log.warning("damaged job record taken: %s", damaged)
            job_id = row.get("id")
            if is_job_id(job_id):
                ending, request = encode_ending(_DAMAGED), uuid.uuid4().hex
                with contextlib.suppress(redis.RedisError):  # logged by the outbox; its lease runs out instead
                    await self._outbox.put(lambda: self._commands.end(self.name, token, job_id, ending, request))
            return None

    async def _with_local_image(self, info: JobInfo) -> JobInfo | None:
        """The job as this worker runs it: its picture (or the video it extends) copied here from Redis;
        None if that is gone."""
        request = info.spec.request
        if not request.conditioned:
            return info
        data = cast(bytes | None, await self._raw.get(self._commands.key("image:", info.job_id)))
        if data is None:
            await self.end(info.job_id, Failed(PICTURE_GONE if request.extend is None else VIDEO_GONE))
            return None
        if request.extend is None:
            path = self._image_path(info.job_id)
            local = dataclasses.replace(request, image=str(path))
        else:
            path = self._image_path(info.job_id, ".mp4")
            local = dataclasses.replace(request, extend=str(path))
        await asyncio.to_thread(_write, self._settings.image_dir, path, data)
        return dataclasses.replace(info, spec=dataclasses.replace(info.spec, request=local))

    async def begin(self, job_ids: Sequence[str]) -> float:
        """An attempt for these held jobs starts now (saved, then announced)."""
        self._attempts += 1
        attempt, token = self._attempts, self._token(job_ids)
        # Not recorded: the worker let go of the jobs, and the call finds none of them wanted.
        started = (
            await self._outbox.put(
                lambda: self._recorded(job_ids, "the start", lambda: self._commands.begin(token, job_ids, attempt))
            )
            or []
        )
        # The start as Redis stamped it (its clock, like the submission's), for a wait that means something.
        now = float(started[0]["att_start"]) if started else await self._commands.now()
        for row in started:
            info = decode_info(row)
            log.info(
                "job started job_id=%s owner=%s group=%s batch=%d attempt=%d wait_s=%.3f worker=%s",
                info.job_id, info.spec.owner_id, info.spec.group_id, len(started), info.attempts,
                now - info.submitted_at, self.name,
            )  # fmt: skip
        return now

    def progress(self, job_ids: Sequence[str], step: int, total: int) -> None:
        """The attempt finished a step (written in order, without waiting)."""
        token = self._token(job_ids)
        ids = [job_id for job_id in job_ids if self.wanted(job_id)]
        if not ids:
            return
        self._outbox.put(
            lambda: self._recorded(ids, "progress", lambda: self._commands.progress(token, ids, step, total))
        )

    def wanted(self, job_id: str) -> bool:
        """True while this worker holds the job and nobody asked to cancel it."""
        return job_id in self._live and job_id not in self._unwanted

    def on_cancel(self, listener: Callable[[str], None]) -> None:
        """Call `listener(job_id)` when a running call should stop for a cancellation."""
        self._listeners.append(listener)

    async def end(self, job_id: str, ending: Ending, *, wait: bool = True) -> bool:
        """End a held job (a success's video stored first); False if this worker no longer holds it."""
        if job_id not in self._live:
            return False
        self._live.discard(job_id)
        token = self._held[job_id]
        written = self._outbox.put(lambda: self._end(job_id, token, ending))
        if not wait:
            return True
        ended: bool = await written
        return ended

    async def put_back(self, job_ids: Sequence[str]) -> None:
        """Hand jobs back to the front of their owners' lines (cancelled ones end cancelled)."""
        ids = [job_id for job_id in job_ids if job_id in self._live]
        if not ids:
            return
        self._live.difference_update(ids)
        by_token: dict[str, list[str]] = {}
        for job_id in ids:
            by_token.setdefault(self._held[job_id], []).append(job_id)

        async def write() -> None:
            for token, members in by_token.items():
                await self._commands.put_back(token, members)
                log.info("jobs handed back job_ids=%s", ",".join(members))
            for job_id in ids:
                self._forget(job_id)
                await self._drop_local_image(job_id)

        await self._outbox.put(write)

    def learn(self, shape: Hashable, cost: float, run_s: float, after_s: float) -> None:
        """Record a run for everybody's ETAs."""
        key = _shape_key(shape)
        window, model = self._settings.eta_window, self._settings.model
        self._outbox.put(lambda: self._commands.learn(key, cost, run_s, after_s, window, model=model))

    # -- leases ---------------------------------------------------------------------------------

    async def heartbeat(self) -> None:
        """Extend the leases of the held jobs and refresh this worker's record; learn what was cancelled or lost."""
        record = dict(self._describe()) | {"current": ",".join(self._live), "state": "running"}
        record |= {ADVERT_MODEL: self._settings.model, ADVERT_PROFILE: self._settings.profile}
        model = self._settings.model
        cancelled, lost = await self._commands.heartbeat(self.name, dict(self._held), record, model=model)
        for job_id in cancelled:
            self._cancelled(job_id, stop=True)
        for job_id in lost:
            if job_id in self._live:
                log.warning("job lost its lease job_id=%s (reclaimed, or Redis lost it)", job_id)
            self._unwanted.add(job_id)
        for token in {self._held[job_id] for job_id in lost if job_id in self._live}:
            call = [job_id for job_id in self._live if self._held.get(job_id) == token]
            if all(job_id in self._unwanted for job_id in call):
                for listener in self._listeners:  # nobody can take its results any more: stop the call
                    listener(call[0])

    async def reclaim(self) -> list[str]:
        """Hand back or fail the jobs of workers whose leases ran out; their ids."""
        return await self._commands.reclaim(self._settings.max_attempts)

    async def _tick(self) -> None:
        interval = self._commands.lease_s / 3
        while True:
            await self._tick_clock.sleep(interval)
            try:
                await self.heartbeat()
                await self.reclaim()
            except Exception:
                log.exception("worker heartbeat failed; retrying in %.1f s", interval)

    async def _listen(self) -> None:
        wake, cancel = self._commands.key("wake"), self._commands.key("cancel")
        while True:
            try:
                async for message in self._pubsub.listen():
                    if message["type"] != "message":
                        continue
                    channel, data = message["channel"], message["data"]
                    if channel == wake:
                        self._wake.set()
                    elif channel == cancel:
                        what, _, job_id = data.partition(":")
                        self._cancelled(job_id, stop=what == "stop")
            except (redis.RedisError, OSError):
                # redis-py subscribes again when it reconnects; what was published meanwhile is lost,
                # so look at the line again, and the next heartbeat tells of missed cancellations.
                log.warning("lost the queue's notifications; listening again", exc_info=True)
                self._wake.set()
                await self._tick_clock.sleep(1.0)

    def _cancelled(self, job_id: str, *, stop: bool) -> None:
        if job_id not in self._live or job_id in self._unwanted:
            return
        self._unwanted.add(job_id)
        if stop:
            for listener in self._listeners:
                listener(job_id)

    # -- writing --------------------------------------------------------------------------------

    async def _retrying(self, what: str, job_ids: Sequence[str], write: Callable[[], Awaitable[_T]]) -> _T:
        """`write`'s answer; what Redis refused or left unanswered is sent again with backoff, waiting a
        lease in all (the tick keeps the jobs' leases meanwhile), then `_NotRecorded`."""
        waited, delay = 0.0, _FIRST_RETRY_S
        while True:
            try:
                return await write()
            except _TRANSIENT as error:
                # Jobs already let go of (an earlier write failed) are the queue's to reclaim: no more tries.
                if waited + delay > self._commands.lease_s or not any(map(self._held.__contains__, job_ids)):
                    raise _NotRecorded(f"{what}: {error}") from error
                log.warning(
                    "could not record %s job_ids=%s (%s); again in %.2f s", what, ",".join(job_ids), error, delay
                )
                await self._tick_clock.sleep(delay)
                waited, delay = waited + delay, min(2 * delay, self._commands.lease_s / 3)

    async def _recorded(self, job_ids: Sequence[str], what: str, write: Callable[[], Awaitable[_T]]) -> _T | None:
        """`write` retried (see `_retrying`); if it never gets recorded, the worker lets go of the jobs."""
        try:
            return await self._retrying(what, job_ids, write)
        except _NotRecorded as error:
            self._let_go(job_ids, str(error))
            return None

    def _let_go(self, job_ids: Sequence[str], why: str) -> None:
        """Stop heartbeating these jobs, so their leases run out and the queue reclaims them; stop their call."""
        for job_id in job_ids:
            if self._held.pop(job_id, None) is None:
                continue
            log.error(
                "letting go of job_id=%s: could not record %s; the queue reclaims it after its lease", job_id, why
            )
            self._cancelled(job_id, stop=True)
            self._live.discard(job_id)
            self._unwanted.discard(job_id)

    async def _end(self, job_id: str, token: str, ending: Ending) -> bool:
        request = uuid.uuid4().hex  # the same for every retry: an end whose answer was lost is not applied twice
        stored: str | None = None
        if isinstance(ending, Succeeded):
            stored = key = video_key(self._commands.prefix, job_id, token)
            path = ending.video.path  # made by this worker's encoder, not read from Redis
            data = await asyncio.to_thread(path.read_bytes)
            try:
                await self._retrying(
                    "the video", [job_id], lambda: self._raw.set(key, data, ex=self._settings.video_ttl_s)
                )
            except _NotRecorded as error:
                log.error("video not stored job_id=%s (%s); failing the job", job_id, error)
                ending, stored = Failed(VIDEO_NOT_STORED), None
                with contextlib.suppress(*_TRANSIENT):  # in case it was stored after all
                    await self._raw.delete(key)
            await asyncio.to_thread(path.unlink, missing_ok=True)
        fields = encode_ending(ending)
        row = await self._recorded(
            [job_id], "the end", lambda: self._commands.end(self.name, token, job_id, fields, request)
        )
        if job_id not in self._held:  # let go of: the queue reclaims it
            await self._drop_local_image(job_id)
            return False
        self._forget(job_id)
        await self._drop_local_image(job_id)
        if row is None:
            log.warning("end refused job_id=%s token=%s (the job ended elsewhere)", job_id, token)
            if stored is not None:
                await self._raw.delete(stored)
            return False
        _log_ending(decode_info(row))
        return True

    async def _drop_local_image(self, job_id: str) -> None:
        for suffix in (".png", ".mp4"):  # a picture, or a video to extend
            await asyncio.to_thread(_remove, self._settings.image_dir, self._image_path(job_id, suffix))

    def _image_path(self, job_id: str, suffix: str = ".png") -> Path:
        return job_file(self._settings.image_dir, job_id, suffix)

    def _forget(self, job_id: str) -> None:
        self._held.pop(job_id, None)
        self._unwanted.discard(job_id)

    def _token(self, job_ids: Sequence[str]) -> str:
        return self._held.get(job_ids[0], "") if job_ids else ""


def _log_ending(info: JobInfo) -> None:
    detail = f" by={actor_text(info.cancelled_by)}" if info.cancelled_by is not None else ""
    detail += f" reason={info.error!r}" if info.error else ""
    log.info(
        "job %s job_id=%s owner=%s group=%s wait_s=%s run_s=%s%s",
        info.status.value, info.job_id, info.spec.owner_id, info.spec.group_id,
        _span(info.submitted_at, info.started_at), _span(info.started_at, info.finished_at), detail,
    )  # fmt: skip


def _span(start: float | None, end: float | None) -> str:
    return "-" if start is None or end is None else f"{end - start:.3f}"


def _shape_key(shape: Hashable) -> str:
    """The key `codec.shape_key` gives the requests of this shape (a tuple, as `VideoRequest.shape` is)."""
    return json.dumps(list(shape) if isinstance(shape, tuple) else shape)


def _write(folder: Path, path: Path, data: bytes) -> None:
    target = inside(folder, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _remove(folder: Path, path: Path) -> None:
    inside(folder, path).unlink(missing_ok=True)
