"""`Metrics`: what the Prometheus series say after the queue's events and stats are fed in."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

from bot.observability import HealthReport, Metrics, route_bucket
from generation.queue.interface import (
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobProgress,
    JobQueued,
    JobStarted,
    Person,
    QueueStats,
    WorkerStatus,
)
from generation.request import VideoRequest
from generation.results import Timings, VideoFile, VideoResult


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def metrics(clock: Clock) -> Metrics:
    return Metrics(clock=clock)


def value(metrics: Metrics, name: str, **labels: str) -> float:
    sample = metrics.registry.get_sample_value(name, labels)
    assert sample is not None, f"no sample {name}{labels}"
    return sample


TIMINGS = Timings(load_s=1.0, denoise_s=8.0, decode_s=2.0, encode_s=1.0)


def finished(job_id: str, timings: Timings = TIMINGS) -> JobFinished:
    request = VideoRequest(prompt="a cat surfing")
    video = VideoFile(path=Path("/data/outputs/a.mp4"), size_bytes=1, width=256, height=256, num_frames=16, fps=8)
    return JobFinished(job_id=job_id, result=VideoResult(request=request, seed=7, video=video, timings=timings))


def test_a_finished_job_counts_as_succeeded_with_its_wait_and_duration(metrics: Metrics, clock: Clock) -> None:
    metrics.observe(JobQueued("j1", position=1, eta_s=None))
    clock.now += 30
    metrics.observe(JobStarted("j1", batch_size=1, eta_s=None))
    clock.now += 45
    metrics.observe(finished("j1"))

    assert value(metrics, "videobot_jobs_total", outcome="succeeded") == 1
    assert value(metrics, "videobot_job_wait_seconds_sum") == 30
    assert value(metrics, "videobot_job_duration_seconds_sum", outcome="succeeded") == 45


def test_position_updates_do_not_restart_the_wait(metrics: Metrics, clock: Clock) -> None:
    metrics.observe(JobQueued("j1", position=3, eta_s=None))
    clock.now += 10
    metrics.observe(JobQueued("j1", position=2, eta_s=None))
    clock.now += 10
    metrics.observe(JobStarted("j1", batch_size=1, eta_s=None))

    assert value(metrics, "videobot_job_wait_seconds_sum") == 20


def test_progress_events_change_no_series(metrics: Metrics) -> None:
    before = metrics.render()

    metrics.observe(JobProgress("j1", step=3, total=25, elapsed_s=1.5))

    assert metrics.render() == before


def test_failed_and_cancelled_jobs_are_counted_by_outcome(metrics: Metrics, clock: Clock) -> None:
    metrics.observe(JobStarted("j1", batch_size=1, eta_s=None))
    clock.now += 5
    metrics.observe(JobFailed("j1", reason="out of memory"))
    metrics.observe(JobStarted("j2", batch_size=1, eta_s=None))
    clock.now += 2
    metrics.observe(JobCancelled("j2", by=Person("42")))

    assert value(metrics, "videobot_jobs_total", outcome="failed") == 1
    assert value(metrics, "videobot_jobs_total", outcome="cancelled") == 1
    assert value(metrics, "videobot_job_duration_seconds_sum", outcome="failed") == 5
    assert value(metrics, "videobot_job_duration_seconds_sum", outcome="cancelled") == 2


def test_a_job_cancelled_while_waiting_has_no_duration(metrics: Metrics) -> None:
    metrics.observe(JobQueued("j1", position=1, eta_s=None))
    metrics.observe(JobCancelled("j1", by=Person("42")))

    assert value(metrics, "videobot_jobs_total", outcome="cancelled") == 1
    assert value(metrics, "videobot_job_duration_seconds_count", outcome="cancelled") == 0
    assert value(metrics, "videobot_job_wait_seconds_count") == 0


def test_a_job_whose_start_was_not_seen_takes_its_duration_from_the_timings(metrics: Metrics) -> None:
    metrics.observe(finished("j1", Timings(denoise_s=20.0, decode_s=3.0)))

    assert value(metrics, "videobot_job_duration_seconds_sum", outcome="succeeded") == 23


def test_a_job_recovered_after_a_restart_records_no_wait(metrics: Metrics, clock: Clock) -> None:
    metrics.observe(JobQueued("j1", position=1, eta_s=None, recovered=True))
    clock.now += 60
    metrics.observe(JobStarted("j1", batch_size=1, eta_s=None))

    assert value(metrics, "videobot_job_wait_seconds_count") == 0


def test_each_stage_of_a_finished_job_is_observed(metrics: Metrics) -> None:
    metrics.observe(finished("j1", Timings(load_s=4.0, denoise_s=8.0, decode_s=2.0, encode_s=0.5)))

    stages = {
        stage: value(metrics, "videobot_job_stage_seconds_sum", stage=stage)
        for stage in ("load", "denoise", "decode", "encode")
    }
    assert stages == {"load": 4.0, "denoise": 8.0, "decode": 2.0, "encode": 0.5}


async def test_consume_observes_every_event_of_a_stream(metrics: Metrics) -> None:
    async def stream() -> AsyncIterator[JobEvent]:
        for job_id in ("j1", "j2"):
            yield JobFailed(job_id, reason="boom")

    await metrics.consume(stream())

    assert value(metrics, "videobot_jobs_total", outcome="failed") == 2


def test_refresh_sets_the_queue_and_gpu_gauges(metrics: Metrics) -> None:
    stats = QueueStats(
        waiting=4,
        running=1,
        succeeded=9,
        failed=1,
        cancelled=0,
        mean_job_s=30.0,
        paused=True,
        gpu_memory_bytes=2**33,
    )

    metrics.refresh(stats)

    assert value(metrics, "videobot_queue_waiting_jobs") == 4
    assert value(metrics, "videobot_queue_running_jobs") == 1
    assert value(metrics, "videobot_queue_paused") == 1
    assert value(metrics, "videobot_gpu_memory_bytes") == 2**33


def test_each_worker_has_its_own_series_and_a_gone_one_reads_down(metrics: Metrics) -> None:
    workers = (
        WorkerStatus("gpu-0", "box-a", "cuda:0", ("job1",), 4, 1_800_000_000.0, alive=True, model_ready=True),
        WorkerStatus("gpu-1", "box-b", "cuda:1", (), 2, 1_799_999_000.0, alive=False, model_ready=True),
    )

    metrics.refresh(QueueStats(0, 1, 6, 0, 0, None, False, None, workers=workers))

    assert value(metrics, "videobot_worker_up", worker="gpu-0") == 1
    assert value(metrics, "videobot_worker_up", worker="gpu-1") == 0
    assert value(metrics, "videobot_worker_jobs_done", worker="gpu-0") == 4
    assert value(metrics, "videobot_worker_last_heartbeat_timestamp_seconds", worker="gpu-1") == 1_799_999_000.0


def test_a_worker_the_queue_forgot_leaves_the_metrics(metrics: Metrics) -> None:
    worker = WorkerStatus("gpu-0", "box-a", "cuda:0", (), 4, 1_800_000_000.0, alive=False, model_ready=True)
    metrics.refresh(QueueStats(0, 0, 4, 0, 0, None, False, None, workers=(worker,)))

    metrics.refresh(QueueStats(0, 0, 4, 0, 0, None, False, None))

    assert metrics.registry.get_sample_value("videobot_worker_up", {"worker": "gpu-0"}) is None


def test_unknown_gpu_memory_reads_as_nan_not_zero(metrics: Metrics) -> None:
    stats = QueueStats(
        waiting=0,
        running=0,
        succeeded=0,
        failed=0,
        cancelled=0,
        mean_job_s=None,
        paused=False,
        gpu_memory_bytes=None,
    )

    metrics.refresh(stats)

    assert math.isnan(value(metrics, "videobot_gpu_memory_bytes"))


def test_health_gauges_follow_the_health_report(metrics: Metrics) -> None:
    metrics.set_health(HealthReport(gateway=False, worker=True, model_loaded=True))

    assert value(metrics, "videobot_gateway_connected") == 0
    assert value(metrics, "videobot_worker_alive") == 1


def test_discord_errors_are_counted_by_status_and_route_bucket(metrics: Metrics) -> None:
    metrics.record_discord_error(429, "POST /api/v10/channels/123456789012345678/messages")
    metrics.record_discord_error(429, "POST /api/v10/channels/876543210987654321/messages")

    assert value(metrics, "videobot_discord_api_errors_total", status="429", route="POST /channels/{id}/messages") == 2


class _Response:
    """The two attributes of an aiohttp response that `discord.HTTPException` reads, plus the request line."""

    status = 404
    reason = "Not Found"
    method = "PATCH"
    url = "https://discord.com/api/v10/webhooks/111/aW50ZXJhY3Rpb246c2VjcmV0/messages/@original"


def test_a_discord_http_exception_is_counted_without_its_interaction_token(metrics: Metrics) -> None:
    error = discord.NotFound(_Response(), {"code": 10008, "message": "Unknown Message"})  # type: ignore[arg-type]

    metrics.record_http_exception(error)

    assert b"aW50ZXJhY3Rpb246c2VjcmV0" not in metrics.render()
    route = "PATCH /webhooks/{id}/{token}/messages/@original"
    assert value(metrics, "videobot_discord_api_errors_total", status="404", route=route) == 1


@pytest.mark.parametrize(
    ("method", "path", "bucket"),
    [
        (
            "post",
            "/api/v10/interactions/123/tok.en-value/callback",
            "POST /interactions/{id}/{token}/callback",
        ),
        (
            "PUT",
            "/api/v10/channels/1/messages/2/reactions/%F0%9F%91%8D/@me",
            "PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me",
        ),
        ("GET", "https://discord.com/api/v10/gateway/bot?v=10", "GET /gateway/bot"),
    ],
)
def test_route_buckets_hide_ids_tokens_and_emoji(method: str, path: str, bucket: str) -> None:
    assert route_bucket(method, path) == bucket
