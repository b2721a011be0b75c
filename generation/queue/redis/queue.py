"""`RedisJobQueue`: the `JobQueue` the bot talks to when the GPU workers are elsewhere, through Redis.

Its state lives in Redis and changes only through the Lua scripts (`scripts.py`), so several bot
processes (shards) can submit into one Redis and share the caps and the fair order. Events come from
the global `events` stream, read by one pump task per process from a cursor saved under the process's
`origin`: a bot restarted with the same origin first hears what happened while it was down. `watch`
replays a job's own stream `ev:{id}`, then follows the pump.

A finished job's MP4 is fetched from Redis into `output_dir` before its `JobFinished` is handed on
(a video no longer in Redis comes back as a `JobFailed`, as a lost file does for the local queue),
and deleted from Redis once it is on this host's disk: Redis holds a whole MP4 only until its bot
fetched it (QUEUE_VIDEO_TTL_H bounds a video nobody fetches). Another origin's videos are left to their
own bot (fetched here only for a job watched here, never deleted).

What Redis holds is input (see `codec`): a record or event that fails its checks is reported once
(`log` warning with the job id) and skipped, or, where it ends a job this process follows, handed on
as that job's `JobFailed(DAMAGED_JOB)`; no loop stops for it. The MP4's key is derived from the job's
id and fencing token (`codec.video_key`), never read from the record, and the file it is written to is
`output_dir/{id}.mp4` for a checked id, checked again to resolve inside `output_dir`.

A job that names a model (`VideoRequest.model`) runs only on a worker serving that name, in that
model's own fair order (its lane: see `scripts.py`); its place and ETA count only the jobs ahead of it
for that model, and the live workers serving it. A job for a model no live worker serves is accepted
and waits (without an ETA) until one registers: `models()` lists what the live workers serve, and
`stats()` what waits per model, for the bot to tell its members.

VIDEO_RETENTION_H holds as for the local queue: a `VideoSweeper` (at start, then hourly on the clock)
deletes the bot host's MP4 and picture of this origin's acknowledged jobs once they ended that long
ago (`redis.retention`); a job's record in Redis expires once it has ended and been acknowledged
(see `scripts.py`), never while its outcome is owed.

A tick every `lease_s / 3` on the tick clock reclaims the jobs of workers that stopped heartbeating
and refreshes the list of workers behind `health` and `stats`. Every `FAR_PLACES_EVERY_S` on it, the
places of jobs past the near line are announced, coalesced (`scripts.FAR_PLACES`; the near line's are
announced by the script that moved them). The tick also checks that Redis still has every
job this process owes an outcome (kept in memory, since `open:{origin}` goes with the rest): Redis
restarted without its data (no AOF, a new instance) loses them all, so each missing one is written
back as failed with `LOST_IN_REDIS`, through the script every ending takes, and its user hears of it
as of any failure (and can Re-roll it) within one tick of Redis answering again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final, cast

import redis.asyncio as redis

from generation.clock import SYSTEM_CLOCK, Clock
from generation.conditioning import IMAGES_FOLDER
from generation.errors import (
    DamagedJobError,
    InvalidRequestError,
    JobNotFoundError,
    QueueBusyError,
    QueueClosedError,
    QueuePausedError,
    QuotaExceededError,
    shown,
)
from generation.extend import MAX_SOURCE_BYTES
from generation.queue.allowance import Allowance, QuotaUsage
from generation.queue.events import DEFAULT_EVENT_BUFFER, EventHub
from generation.queue.handle import QueueHandle
from generation.queue.interface import (
    Actor,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobHandle,
    JobInfo,
    JobSpec,
    JobStatus,
    QueueStats,
    ServedModel,
    WorkerHealth,
    WorkerStatus,
    actor_text,
)
from generation.queue.jobfiles import inside, is_job_id, job_file, new_job_id
from generation.queue.reasons import DAMAGED_JOB, LOST_IN_REDIS, LOST_VIDEO, UNKNOWN
from generation.queue.redis.codec import (
    SWEPT,
    Raw,
    decode_event,
    decode_info,
    is_terminal,
    job_fields,
    job_id_of,
    quota_argument,
    video_key,
    video_meta,
)
from generation.queue.redis.registry import read_workers, served_models
from generation.queue.redis.retention import BotHostFiles, record_keep_s
from generation.queue.redis.verbs import QueueVerbs
from generation.queue.retention import VideoSweeper
from generation.queue.scheduler import queue_full_error, user_limit_error
from generation.queue.settings import QueueSettings
from generation.request import check_model_name
from generation.results import Timings, VideoResult

log = logging.getLogger(__name__)

DEFAULT_ORIGIN: Final = "bot"
QUEUE_BUSY: Final = "the queue cannot take more right now (its storage is full); please try again in a few minutes"
_READ_COUNT: Final = 500
_Entries = list[tuple[str, dict[str, str]]]
"""Stream entries as the decoding client returns them: (id, fields)."""
_BLOCK_MS: Final = 1000
"""How long one read of the events stream waits for news: well under redis-py's 5 s socket timeout."""
FAR_PLACES_EVERY_S: Final = 5.0
"""How often the places past the near line are looked at (`scripts.FAR_PLACES`): a job that far back
moves a place every few seconds at best, and the near line's places are announced as they change."""
PICTURE_UNSUBMITTED_TTL_S: Final = 600
"""How long a picture written for a submission stays if the submission never runs (the bot died
between the two); the submission makes it the job's, deleted when the job ends."""


def _entry_key(entry_id: str) -> tuple[int, int]:
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)


class _Feed:
    """One job's events as the pump hands them on, for the watchers of that job in this process."""

    def __init__(self, closed: bool) -> None:
        self.events: list[tuple[str, JobEvent]] = []
        self.watchers = 0
        self.closed = closed
        self.changed = asyncio.Event()

    def push(self, entry_id: str, event: JobEvent) -> None:
        self.events.append((entry_id, event))
        self._fire()

    def close(self) -> None:
        self.closed = True
        self._fire()

    def _fire(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


class RedisJobQueue:
    """The fair, bounded, durable queue in Redis, as one bot process sees it; see the module docstring."""

    def __init__(
        self,
        settings: QueueSettings,
        commands: QueueVerbs,
        raw: redis.Redis,
        *,
        output_dir: Path,
        clock: Clock = SYSTEM_CLOCK,
        tick_clock: Clock | None = None,
        origin: str = DEFAULT_ORIGIN,
        event_buffer: int = DEFAULT_EVENT_BUFFER,
    ) -> None:
        self._settings = settings
        self._commands = commands
        self._client = commands.client
        self._raw = raw
        self._output_dir = output_dir
        self._picture_dir = output_dir / IMAGES_FOLDER
        self._reported: set[str] = set()
        self._warned: set[str] = set()  # messages about what workers advertise, each logged once
        self._clock = clock
        self._tick_clock = tick_clock or clock
        self._origin = origin
        self._hub = EventHub(event_buffer)
        self._feeds: dict[str, _Feed] = {}
        self._cursor = "0-0"
        self._started_from = (0, 0)  # the newest event when this process started
        self._workers: list[WorkerStatus] = []
        self._owed: dict[str, JobInfo] = {}  # submitted or found here; until acknowledged or its end handed on
        self._sweeper = VideoSweeper(
            BotHostFiles(commands.client, commands.prefix, origin, output_dir),
            settings.video_retention_h,
            clock,
            now=commands.now,  # the end times in Redis are on Redis's clock
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._closed = False

    def _key(self, *parts: str) -> str:
        return self._commands.key(*parts)

    async def start(self) -> list[JobInfo]:
        """Connect, index a line written before the `order` zset existed, resume the event cursor this
        origin saved, start the pump and the tick.

        Returns the jobs this origin submitted whose outcome it has not acknowledged (waiting, running
        or ended), in submission order, to `watch`.
        """
        if self._started or self._closed:
            raise RuntimeError("RedisJobQueue.start() may be called once, before close()")
        await self._client.ping()
        await self._commands.index_order()
        saved = cast(str | None, await self._client.get(self._key("cursor:", self._origin)))
        newest = cast(_Entries, await self._client.xrevrange(self._key("events"), count=1))
        if saved is None:
            saved = newest[0][0] if newest else "0-0"
        self._cursor = saved
        self._started_from = _entry_key(newest[0][0]) if newest else (0, 0)
        await self._refresh_workers()
        if self._sweeper.enabled:
            await self._sweeper.sweep()
        self._started = True
        self._tasks = [
            asyncio.create_task(self._pump(), name="redis-queue-events"),
            asyncio.create_task(self._tick(), name="redis-queue-tick"),
            asyncio.create_task(self._far_places(), name="redis-queue-far-places"),
        ]
        if self._sweeper.enabled:
            self._tasks.append(asyncio.create_task(self._sweeper.run(), name="redis-queue-video-sweeper"))
        following = cast(set[str], await self._client.smembers(self._key("open:", self._origin)))
        found = await self._commands.view(sorted(following))
        infos = self._infos(sorted(found, key=_submitted))
        self._owed.update((info.job_id, info) for info in infos)
        log.info(
            "queue started (redis) origin=%s following=%d workers=%d", self._origin, len(infos), len(self._workers)
        )
        return infos

    async def close(self) -> None:
        """Stop the pump (after reading what is already written) and the tick; end every stream. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._started:
            with contextlib.suppress(Exception):
                await self._catch_up(block=None)
        for feed in self._feeds.values():
            feed.close()
        self._hub.close()
        await self._disconnect()
        log.info("queue closed (redis) origin=%s", self._origin)

    async def submit(self, spec: JobSpec) -> JobHandle:
        """Queue a job; see `JobQueue.submit` for what it refuses."""
        if self._closed or not self._started:
            raise QueueClosedError("the video queue is not running right now; try again in a minute")
        if spec.request.image is not None and not self._is_picture(spec.request.image):
            raise InvalidRequestError("image", spec.request.image, f"a picture the bot stored in {self._picture_dir}")
        if spec.request.extend is not None and not self._is_picture(spec.request.extend):
            raise InvalidRequestError("extend", spec.request.extend, f"a video the bot stored in {self._picture_dir}")
        kept = spec.request.image or spec.request.extend
        max_held = spec.allowance.max_held or self._settings.queue_max_per_user
        job_id = new_job_id()
        picture = None
        try:
            if kept is not None:
                # The worker runs on another host: it gets the picture (or the video it extends) from Redis,
                # deleted when the job ends.
                field = "image" if spec.request.image else "extend"
                data = await asyncio.to_thread(_kept_file, Path(kept), field, MAX_SOURCE_BYTES)
                picture = self._key("image:", job_id)
                await self._raw.set(picture, data, ex=PICTURE_UNSUBMITTED_TTL_S)
            answer = await self._commands.submit(
                job_id,
                job_fields(job_id, spec, self._origin),
                max_jobs=self._settings.queue_max_jobs,
                max_per_user=max_held,
                quota=quota_argument(spec.allowance),
            )
        except BaseException as error:
            if picture is not None:
                await self._raw.delete(picture)  # DEL is allowed at the memory limit
            if isinstance(error, redis.OutOfMemoryError):
                # The script refuses before its first write, so nothing of the job was written.
                log.warning("submission refused: Redis is at its memory limit (maxmemory) owner=%s", spec.owner_id)
                raise QueueBusyError(QUEUE_BUSY) from error
            raise
        if picture is not None and "error" in answer:
            await self._raw.delete(picture)
        if answer.get("damaged"):
            self._warn_damaged_quota(spec.allowance.quota_key)
        match answer.get("error"):
            case "paused":
                raise QueuePausedError("video generation is paused by an admin; try again later")
            case "quota":
                raise QuotaExceededError(int(answer["used"]), int(answer["limit"]), float(answer["resets_at"]))
            case "user":
                raise user_limit_error(int(answer["held"]), max_held)
            case "full":
                raise queue_full_error(int(answer["waiting"]), self._settings.queue_max_jobs)
        info = self._info(answer["job"])
        self._owed[job_id] = info
        log.info(
            "job queued job_id=%s owner=%s group=%s position=%s",
            job_id, spec.owner_id, spec.group_id, info.position,
        )  # fmt: skip
        return QueueHandle(self, info)

    def watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        """The job's events from its submission; see `JobQueue.watch`."""
        return self._watch(job_id)

    async def cancel(self, job_id: str, by: Actor) -> JobInfo:
        """Cancel a waiting job now, or a running one (wherever it runs) at its next step."""
        if self._closed:
            raise QueueClosedError("the video queue is restarting; try again in a minute")
        row = await self._commands.cancel(job_id, actor_text(by))
        if row is None:
            raise JobNotFoundError(f"there is no job with id {job_id!r}")
        return self._info(row)

    async def get(self, job_id: str) -> JobInfo:
        """The job's current snapshot. Raises `JobNotFoundError`."""
        rows = await self._commands.view([job_id])
        await self._settle()
        if not rows:
            raise JobNotFoundError(f"there is no job with id {job_id!r}")
        return self._info(rows[0])

    async def active(self) -> list[JobInfo]:
        """Running jobs first, then waiting ones in the order they will run, model by model (those naming
        none first); each one's `position` is its place among the jobs for its model."""
        ids = await self._commands.active_ids()
        infos = {info.job_id: info for info in self._infos(await self._commands.view(ids))}
        return [infos[job_id] for job_id in ids if job_id in infos]

    def subscribe(self) -> AsyncIterator[JobEvent]:
        """Every event from now on (from the saved cursor, if the queue is not started yet)."""
        return self._hub.subscribe()

    async def pause(self) -> None:
        """Workers start no new jobs and submissions are refused, in every bot process."""
        await self._client.set(self._key("paused"), "1")
        log.info("queue paused")

    async def resume(self) -> None:
        """Undo `pause`."""
        await self._client.delete(self._key("paused"))
        await self._client.publish(self._key("wake"), "resume")
        log.info("queue resumed")

    async def clear(self, by: Actor) -> list[JobInfo]:
        """Cancel every waiting job (the running ones go on); return them in the order they were."""
        if self._closed:
            raise QueueClosedError("the video queue is restarting; try again in a minute")
        cleared = self._infos(await self._commands.clear(actor_text(by)))
        log.info("queue cleared by=%s cancelled=%d", actor_text(by), len(cleared))
        return cleared

    async def history(self, owner_id: str | None = None, limit: int = 10) -> list[JobInfo]:
        """Ended jobs, newest first, optionally only one owner's."""
        key = self._key("done") if owner_id is None else self._key("done:", owner_id)
        ids = cast(list[str], await self._client.zrevrange(key, 0, limit - 1))
        return self._infos([row for row in await self._rows(ids) if row])

    async def stats(self) -> QueueStats:
        """Outcome counts, the line, and every worker heard from recently."""
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._key("stats"))
            pipe.hget(self._key("sched"), "waiting")
            pipe.zcard(self._key("running"))
            pipe.exists(self._key("paused"))
            counts, waiting, running, paused = await pipe.execute()
        await self._refresh_workers()
        succeeded = int(counts.get("succeeded", 0))
        memory = [worker.memory_bytes for worker in self._workers if worker.alive and worker.memory_bytes is not None]
        return QueueStats(
            waiting=int(waiting or 0),
            running=int(running),
            succeeded=succeeded,
            failed=int(counts.get("failed", 0)),
            cancelled=int(counts.get("cancelled", 0)),
            mean_job_s=float(counts["succeeded_s"]) / succeeded if succeeded and "succeeded_s" in counts else None,
            paused=bool(paused),
            gpu_memory_bytes=sum(memory) if memory else None,
            workers=tuple(self._workers),
            waiting_by_model=await self._waiting_by_model(),
        )

    async def quota_usage(self, allowance: Allowance) -> QuotaUsage:
        """Where `allowance`'s daily quota stands now, on Redis's clock; see `JobQueue.quota_usage`."""
        argument = quota_argument(allowance)
        if argument is None:
            return QuotaUsage(0, allowance.daily_quota, None)
        answer = await self._commands.quota(argument)
        if answer.get("damaged"):
            self._warn_damaged_quota(allowance.quota_key)
        resets_at = str(answer["resets_at"])
        return QuotaUsage(int(answer["used"]), allowance.daily_quota, float(resets_at) if resets_at else None)

    async def models(self) -> tuple[ServedModel, ...]:
        """Every model a worker serves or served lately, by name, with its live workers (liveness on
        Redis's clock; 0: all gone, its jobs wait); a worker's advert that fails its checks is left out,
        with a warning once per process (see `registry`)."""
        now = await self._commands.now()
        return await served_models(
            self._client, self._commands.prefix, now, self._commands.lease_s, warn=self._warn_once
        )

    def health(self) -> WorkerHealth:
        """From the last look at the registry: a worker heartbeats, and one of them has a usable model."""
        alive = [worker for worker in self._workers if worker.alive]
        return WorkerHealth(worker_alive=bool(alive), model_ready=any(worker.model_ready for worker in alive))

    async def acknowledge(self, job_id: str) -> None:
        """The job's outcome reached its user: `start` will not hand it back again, its files here are
        swept after VIDEO_RETENTION_H and its record in Redis expires (see the module docstring)."""
        keep_s = record_keep_s(self._settings.video_retention_h)
        self._owed.pop(job_id, None)
        found = await self._commands.acknowledge(job_id, self._origin, keep_s=keep_s)
        await self._settle()
        if not found:
            raise JobNotFoundError(f"there is no job with id {job_id!r}")

    async def outcome(self, job_id: str) -> JobFinished | JobFailed | JobCancelled:
        """The ended job's terminal event; a success whose video is gone from Redis, or whose record is
        damaged, comes back failed."""
        try:
            info = await self.get(job_id)
            if info.status is JobStatus.SUCCEEDED:
                return await self._finished(job_id, (await self._rows([job_id]))[0])
        except DamagedJobError as damaged:
            self._report(damaged)
            return JobFailed(job_id, DAMAGED_JOB)
        match info.status:
            case JobStatus.FAILED:
                return JobFailed(job_id, info.error or UNKNOWN)
            case JobStatus.CANCELLED:
                assert info.cancelled_by is not None
                return JobCancelled(job_id, info.cancelled_by)
            case _:
                raise ValueError(f"job {job_id} has not ended ({info.status})")

    async def update_context(self, job_id: str, context: str) -> None:
        """Replace the job's `JobSpec.context`. Raises `JobNotFoundError`."""
        if not await self._commands.set_context(job_id, context):
            raise JobNotFoundError(f"there is no job with id {job_id!r}")
        if (info := self._owed.get(job_id)) is not None:  # written back with it, should Redis lose the job
            self._owed[job_id] = dataclasses.replace(info, spec=dataclasses.replace(info.spec, context=context))

    async def reclaim(self) -> list[str]:
        """Hand back (or fail) the jobs of workers whose leases ran out; their ids."""
        return await self._commands.reclaim(self._settings.job_max_attempts)

    # -- events ---------------------------------------------------------------------------------

    async def _watch(self, job_id: str) -> AsyncIterator[JobEvent]:
        feed = self._feeds.get(job_id)
        if feed is None:
            feed = self._feeds[job_id] = _Feed(closed=self._closed or not self._started)
        feed.watchers += 1
        try:
            last = (0, 0)
            history: _Entries = []
            if await self._client.exists(self._key("job:", job_id)):
                history = cast(_Entries, await self._client.xrange(self._key("ev:", job_id)))
                if not history and (await self.get(job_id)).status.terminal:
                    yield await self.outcome(job_id)  # its stream expired
                    return
            elif job_id not in self._owed:
                raise JobNotFoundError(f"there is no job with id {job_id!r}")
            # else Redis lost it: the tick writes its ending back (`_recover_lost`) and the pump brings it
            if history and is_terminal(history[-1][1]) and _entry_key(history[-1][0]) <= self._started_from:
                yield await self.outcome(job_id)  # it ended before this process started: only how
                return
            for entry_id, fields in history:
                last = _entry_key(entry_id)
                if (event := await self._checked_event(fields)) is not None:
                    yield event
                if is_terminal(fields):
                    return
            index = 0
            while True:
                while index < len(feed.events):
                    entry_id, event = feed.events[index]
                    index += 1
                    if _entry_key(entry_id) > last:
                        last = _entry_key(entry_id)
                        yield event
                        if isinstance(event, JobFinished | JobFailed | JobCancelled):
                            return
                if feed.closed:
                    return
                await feed.changed.wait()
        finally:
            feed.watchers -= 1
            if not feed.watchers and self._feeds.get(job_id) is feed:
                del self._feeds[job_id]
            await self._settle()

    async def _pump(self) -> None:
        # redis-py may answer the cancellation of a blocked read by retrying it: the flag ends the loop.
        while not self._closed:
            try:
                await self._catch_up(block=_BLOCK_MS)
            except Exception:
                if self._closed:  # redis-py turns the cancellation of a blocked read into a TimeoutError
                    return
                log.exception("reading queue events failed; retrying")
                await self._tick_clock.sleep(1.0)

    async def _catch_up(self, *, block: int | None) -> None:
        """Read and hand on the events after the cursor (waiting up to `block` ms for some), then save it."""
        replies = cast(
            list[tuple[str, _Entries]],
            await self._client.xread({self._key("events"): self._cursor}, count=_READ_COUNT, block=block),
        )
        if not replies:
            return
        for entry_id, fields in replies[0][1]:
            event = await self._checked_event(fields)
            self._cursor = entry_id
            if event is None:
                continue
            feed = self._feeds.get(event.job_id)
            if feed is not None:
                feed.push(entry_id, event)
            if isinstance(event, JobFinished | JobFailed | JobCancelled):
                self._owed.pop(event.job_id, None)  # its user is told through this event, whatever Redis keeps
            self._hub.publish(event)
        await self._client.set(self._key("cursor:", self._origin), self._cursor)

    async def _checked_event(self, fields: Raw) -> JobEvent | None:
        """The entry's event; for a damaged one (reported), the job's failure if the entry ends a job
        with a valid id, else None: skip it."""
        try:
            event = decode_event(fields)
            if event is not None:
                return event
            job_id = job_id_of(fields, "job")
            rows = await self._rows([job_id])
            if not rows[0]:
                return JobFailed(job_id, LOST_VIDEO)
            # Another bot's job, unwatched here: its video is that bot's to fetch (the event still counts).
            fetch = rows[0].get("origin") == self._origin or job_id in self._feeds
            return await self._finished(job_id, rows[0], fetch=fetch)
        except DamagedJobError as damaged:
            self._report(damaged)
            named = fields.get("job")
            return JobFailed(named, DAMAGED_JOB) if is_terminal(fields) and is_job_id(named) else None

    async def _finished(self, job_id: str, row: Raw, *, fetch: bool = True) -> JobFinished | JobFailed:
        """A success's event, once its MP4 is in `output_dir` (fetched from Redis if it is not there yet,
        then deleted from Redis if the job is this origin's). Raises `DamagedJobError` for a record that is
        not this job's or fails its checks."""
        if job_id_of(row) != job_id:
            raise DamagedJobError(job_id, "its record names another job")
        meta = video_meta(row)
        path = self._video_path(job_id)
        if meta is None or "seed" not in row or SWEPT in row:
            # Swept by the retention: fetching its bytes again would leave a file no sweep knows of.
            return JobFailed(job_id, LOST_VIDEO)
        info = decode_info(row, path)
        if info.seed is None:
            raise DamagedJobError(job_id, "a success without its seed")
        # Derived, not read from the record: a worker cannot name another key's bytes for this user.
        key = video_key(self._commands.prefix, job_id, row.get("token"))
        if fetch and not await asyncio.to_thread(path.exists):
            data = cast(bytes | None, await self._raw.get(key))
            if data is not None:
                await asyncio.to_thread(_write, self._output_dir, path, data)
            elif not await asyncio.to_thread(path.exists):  # else fetched (then deleted) meanwhile by this process
                return JobFailed(job_id, LOST_VIDEO)
        if fetch and row.get("origin") == self._origin:
            await self._raw.delete(key)  # on this host's disk for good: Redis need not hold it too
        video = meta.at(path)
        return JobFinished(job_id, VideoResult(info.spec.request, info.seed, video, info.timings or Timings()))

    # -- helpers --------------------------------------------------------------------------------

    async def _settle(self) -> None:
        """After a read or an acknowledgement once closed: let go of the connection it opened again."""
        if self._closed:
            await self._disconnect()

    async def _disconnect(self) -> None:
        # The clients stay usable (a later `acknowledge` reconnects); this closes their connections.
        await self._client.aclose()
        await self._raw.aclose()

    async def tick(self) -> None:
        """What the tick does every `lease_s / 3`: tell the users of the jobs Redis lost, reclaim the jobs of
        silent workers, refresh the list of workers."""
        await self._recover_lost()
        await self.reclaim()
        await self._refresh_workers()

    async def _tick(self) -> None:
        interval = self._commands.lease_s / 3
        # As in `_pump`: redis-py may swallow the cancellation of a command in flight, so the flag ends it.
        while not self._closed:
            await self._tick_clock.sleep(interval)
            try:
                await self.tick()
            except Exception:
                if self._closed:
                    return
                log.exception("queue tick failed; retrying in %.1f s", interval)

    async def _far_places(self) -> None:
        while True:
            await self._tick_clock.sleep(FAR_PLACES_EVERY_S)
            try:
                await self._commands.far_places(FAR_PLACES_EVERY_S)
            except Exception:
                log.exception("announcing far places failed; retrying in %.1f s", FAR_PLACES_EVERY_S)

    async def _recover_lost(self) -> None:
        """End as lost, through the usual path, every job this process owes whose record Redis no longer has."""
        owed = list(self._owed.values())
        if not owed:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for info in owed:
                pipe.exists(self._key("job:", info.job_id))
            there: list[int] = await pipe.execute()
        lost = [info for info, found in zip(owed, there, strict=True) if not found]
        if not lost:
            return
        log.error(
            "Redis no longer has %d jobs this bot owes an outcome (restarted without its data?); telling their users",
            len(lost),
        )
        for info in lost:
            log.warning("job lost by Redis job_id=%s owner=%s", info.job_id, info.spec.owner_id)
            fields = job_fields(info.job_id, info.spec, self._origin)
            await self._commands.lost(info.job_id, fields, submitted_at=info.submitted_at, reason=LOST_IN_REDIS)

    async def _refresh_workers(self) -> None:
        # Heartbeats are stamped on Redis's clock: liveness is judged on it, never on this host's.
        now = await self._commands.now()
        self._workers = await read_workers(self._client, self._commands.prefix, now, self._commands.lease_s)

    async def _rows(self, job_ids: list[str]) -> list[Raw]:
        async with self._client.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(self._key("job:", job_id))
            rows: list[Raw] = await pipe.execute()
        return rows

    def _video_path(self, job_id: str) -> Path:
        return job_file(self._output_dir, job_id, ".mp4")

    def _is_picture(self, image: str) -> bool:
        """True for a path `generation.conditioning.store_image` could have made here (a file right in the
        picture folder); the sweep checks again, resolved on disk, before it deletes one."""
        path = Path(image)
        return path.parent == self._picture_dir and path.name not in ("", ".", "..")

    def _info(self, row: Raw) -> JobInfo:
        """The row as a `JobInfo`; raises `DamagedJobError` (reported) for one that fails its checks."""
        try:
            job_id = job_id_of(row)
            info = decode_info(row, self._video_path(job_id))
            if info.spec.request.image is not None and not self._is_picture(info.spec.request.image):
                raise DamagedJobError(job_id, "its picture is not one the bot stored")
            if info.spec.request.extend is not None and not self._is_picture(info.spec.request.extend):
                raise DamagedJobError(job_id, "its video to extend is not one the bot stored")
        except DamagedJobError as damaged:
            self._report(damaged)
            raise
        return info

    def _infos(self, rows: list[Raw]) -> list[JobInfo]:
        """The rows that pass their checks, as `JobInfo`s (the others reported and left out)."""
        infos = []
        for row in rows:
            with contextlib.suppress(DamagedJobError):
                infos.append(self._info(row))
        return infos

    async def _waiting_by_model(self) -> tuple[tuple[str, int], ...]:
        """Jobs waiting per model they name, by name; a name Redis holds that is not one is left out."""
        counts = []
        for name, count in sorted((await self._commands.waiting_by_model()).items()):
            try:
                counts.append((check_model_name(name), count))
            except InvalidRequestError:
                self._warn_once(f"jobs wait for a model name that is not one ({shown(name)}); not listed")
        return tuple(counts)

    def _warn_damaged_quota(self, quota_key: str) -> None:
        self._warn_once(f"the quota record of {shown(quota_key)} in Redis was not a sorted set; counted as empty")

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)

    def _report(self, damaged: DamagedJobError) -> None:
        """Say once per process that a job's record is damaged and not used (no field values: no secrets)."""
        key = shown(damaged.job_id)  # bounded: the id may be anything Redis held
        if key not in self._reported:
            self._reported.add(key)
            log.warning("damaged job record skipped: %s", damaged)


def _submitted(row: Raw) -> int:
    """The row's place in submission order (a damaged one last: it is reported and left out anyway)."""
    seq = str(row.get("seq"))
    return int(seq) if seq.isascii() and seq.isdigit() else 2**63


def _kept_file(path: Path, field: str, max_bytes: int) -> bytes:
    """The bytes of a job's picture or video to extend (`field`); `InvalidRequestError` past `max_bytes`,
    told from its size before it is read."""
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidRequestError(field, f"{size / 2**20:.1f} MiB", f"a file of at most {max_bytes // 2**20} MiB")
    return path.read_bytes()


def _write(folder: Path, path: Path, data: bytes) -> None:
    """Write whole or not at all, a reader never seeing half a video, and only inside `folder`."""
    target = inside(folder, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    partial.write_bytes(data)
    partial.replace(target)
