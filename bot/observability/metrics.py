"""Prometheus metrics of the bot: queue depth, job outcomes and times, GPU memory, Discord health.

`Metrics` owns its own `CollectorRegistry` (never the global one, so tests and several bots in one
process do not collide). It learns about jobs from the queue's event stream (`observe`, or `consume`
on `JobQueue.subscribe()`) and about the queue as a whole from `QueueStats` (`refresh`).

Exposed series (all prefixed `videobot_`):

    queue_waiting_jobs, queue_running_jobs, queue_paused    gauges, from QueueStats
    gpu_memory_bytes                                        gauge, NaN while unknown
    jobs_total{outcome}                                     succeeded | failed | cancelled
    job_wait_seconds                                        histogram, queued → started
    job_duration_seconds{outcome}                           histogram, started → ended
    job_stage_seconds{stage}                                histogram, load | denoise | decode | encode
    discord_api_errors_total{status,route}                  route is a bucket: ids and tokens replaced
    gateway_connected, worker_alive, model_loaded           gauges, 1 or 0, read at each scrape
    worker_up{worker}, worker_jobs_done{worker},            per GPU worker, from QueueStats (a gone
    worker_last_heartbeat_timestamp_seconds{worker}         worker reads 0 until it is forgotten)
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.observability.probe import HealthReport
from generation.queue.interface import (
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobProgress,
    JobQueued,
    JobStarted,
    QueueStats,
)

if TYPE_CHECKING:
    import discord

OUTCOMES = ("succeeded", "failed", "cancelled")
STAGES = ("load", "denoise", "decode", "encode")

# A job takes tens of seconds to minutes on one GPU; waits range from nothing to an hour-long queue.
DURATION_BUCKETS = (5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 1200.0)
WAIT_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
STAGE_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

_API_VERSION = re.compile(r"^/api/v\d+")


def route_bucket(method: str, path: str) -> str:
    """A low-cardinality, secret-free label for a REST call.

    `("POST", "/api/v10/webhooks/123/aW50…/messages/@original")`
    → `"POST /webhooks/{id}/{token}/messages/@original"`.

    Snowflakes become `{id}`, the segment after a webhook or interaction id becomes `{token}` and a
    reaction's emoji `{emoji}`, so the label has few values and never carries an interaction token.
    """
    segments = _API_VERSION.sub("", urlsplit(path).path).strip("/").split("/")
    bucket: list[str] = []
    for index, segment in enumerate(segments):
        before = segments[index - 1] if index else ""
        before_that = segments[index - 2] if index > 1 else ""
        if segment.isdigit():
            bucket.append("{id}")
        elif before.isdigit() and before_that in ("webhooks", "interactions"):
            bucket.append("{token}")
        elif before == "reactions":
            bucket.append("{emoji}")
        else:
            bucket.append(segment)
    return f"{method.upper()} /{'/'.join(bucket)}".strip()


class Metrics:
    """The bot's Prometheus metrics; every method is cheap and safe to call from the event loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry()
        self._clock = clock
        self._queued_at: dict[str, float] = {}
        self._started_at: dict[str, float] = {}
        registry = self.registry
        self._waiting = Gauge("videobot_queue_waiting_jobs", "Jobs waiting in the queue", registry=registry)
        self._running = Gauge("videobot_queue_running_jobs", "Jobs on the GPU now", registry=registry)
        self._paused = Gauge("videobot_queue_paused", "1 while an admin has paused the queue", registry=registry)
        self._gpu_memory = Gauge(
            "videobot_gpu_memory_bytes", "GPU memory held by the engine (NaN when unknown)", registry=registry
        )
        self._gpu_memory.set(math.nan)
        self._jobs = Counter("videobot_jobs", "Jobs that ended, by outcome", ["outcome"], registry=registry)
        self._wait = Histogram(
            "videobot_job_wait_seconds",
            "Time from queued to started",
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self._duration = Histogram(
            "videobot_job_duration_seconds",
            "Time from started to ended, by outcome",
            ["outcome"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self._stage = Histogram(
            "videobot_job_stage_seconds",
            "Seconds spent in each stage of a finished job",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=registry,
        )
        self._discord_errors = Counter(
            "videobot_discord_api_errors",
            "Discord REST errors, by HTTP status and route bucket",
            ["status", "route"],
            registry=registry,
        )
        self._gateway = Gauge("videobot_gateway_connected", "1 while the gateway is connected", registry=registry)
        self._worker = Gauge("videobot_worker_alive", "1 while the GPU worker runs", registry=registry)
        self._model = Gauge("videobot_model_loaded", "1 once the pipeline is loaded", registry=registry)
        self._worker_up = Gauge(
            "videobot_worker_up", "1 while the GPU worker heartbeats, 0 once gone", ["worker"], registry=registry
        )
        self._worker_done = Gauge(
            "videobot_worker_jobs_done", "Jobs the GPU worker finished", ["worker"], registry=registry
        )
        self._worker_beat = Gauge(
            "videobot_worker_last_heartbeat_timestamp_seconds",
            "When the GPU worker was last heard from (Unix time)",
            ["worker"],
            registry=registry,
        )
        # Series that exist from the start read 0 instead of missing, so rate() works from the first job.
        for outcome in OUTCOMES:
            self._jobs.labels(outcome)
            self._duration.labels(outcome)
        for stage in STAGES:
            self._stage.labels(stage)

    def observe(self, event: JobEvent) -> None:
        """Account for one queue event.

        Wait and duration are measured between the events this object sees. A job re-queued after a
        restart has no wait recorded (its submission predates us); a job whose start was not seen takes
        its duration from `result.timings` when it succeeds and records none otherwise.
        """
        now = self._clock()
        match event:
            case JobQueued(job_id=job_id, recovered=False):
                self._queued_at.setdefault(job_id, now)
            case JobStarted(job_id=job_id):
                self._started_at[job_id] = now
                queued_at = self._queued_at.pop(job_id, None)
                if queued_at is not None:
                    self._wait.observe(now - queued_at)
            case JobFinished(job_id=job_id, result=result):
                timings = result.timings
                for stage, seconds in zip(
                    STAGES,
                    (timings.load_s, timings.denoise_s, timings.decode_s, timings.encode_s),
                    strict=True,
                ):
                    self._stage.labels(stage).observe(seconds)
                self._end(job_id, "succeeded", now, fallback_s=timings.total_s)
            case JobFailed(job_id=job_id):
                self._end(job_id, "failed", now)
            case JobCancelled(job_id=job_id):
                self._end(job_id, "cancelled", now)
            case JobQueued() | JobProgress():
                pass

    async def consume(self, events: AsyncIterator[JobEvent]) -> None:
        """Observe every event of `events` (e.g. `queue.subscribe()`) until the stream ends."""
        async for event in events:
            self.observe(event)

    def refresh(self, stats: QueueStats) -> None:
        """Update the queue and GPU gauges from a `QueueStats` snapshot."""
        self._waiting.set(stats.waiting)
        self._running.set(stats.running)
        self._paused.set(int(stats.paused))
        self._gpu_memory.set(math.nan if stats.gpu_memory_bytes is None else stats.gpu_memory_bytes)
        for gauge in (self._worker_up, self._worker_done, self._worker_beat):
            gauge.clear()  # a worker forgotten by the queue leaves the page too
        for worker in stats.workers:
            self._worker_up.labels(worker.name).set(int(worker.alive))
            self._worker_done.labels(worker.name).set(worker.jobs_done)
            self._worker_beat.labels(worker.name).set(worker.last_heartbeat)

    def set_health(self, report: HealthReport) -> None:
        """Update the gateway, worker and model gauges from a health reading."""
        self._gateway.set(int(report.gateway))
        self._worker.set(int(report.worker))
        self._model.set(int(report.model_loaded))

    def record_discord_error(self, status: int, route: str) -> None:
        """Count one failed Discord REST call; `route` is `"METHOD /path"` and is bucketed here."""
        method, _, path = route.partition(" ")
        self._discord_errors.labels(str(status), route_bucket(method, path)).inc()

    def record_http_exception(self, error: discord.HTTPException) -> None:
        """Count a `discord.HTTPException` (or subclass) by its status and the request's route."""
        response = error.response
        self.record_discord_error(error.status, f"{getattr(response, 'method', '?')} {response.url}")

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)

    def _end(self, job_id: str, outcome: str, now: float, fallback_s: float | None = None) -> None:
        self._jobs.labels(outcome).inc()
        self._queued_at.pop(job_id, None)
        started_at = self._started_at.pop(job_id, None)
        duration = now - started_at if started_at is not None else fallback_s
        if duration is not None:
            self._duration.labels(outcome).observe(duration)
