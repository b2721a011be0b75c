"""The health server over real HTTP: /healthz for Docker, /metrics for Prometheus, and the image's probe."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from bot.observability import HealthServer, Metrics, start_health_server
from generation.queue.interface import JobFailed, QueueStats, WorkerStatus
from tests.patience import PATIENCE_S

STATS = QueueStats(
    waiting=3,
    running=1,
    succeeded=5,
    failed=0,
    cancelled=1,
    mean_job_s=40.0,
    paused=False,
    gpu_memory_bytes=1024,
    workers=(
        WorkerStatus("gpu-0", "box-a", "cuda:0", ("job1",), 4, 1_800_000_000.0, alive=True, model_ready=True),
        WorkerStatus("gpu-1", "box-b", "cuda:1", (), 2, 1_799_999_000.0, alive=False, model_ready=True),
    ),
)


@dataclass
class FakeProbe:
    """The bot's side of the health checks, set by each test."""

    gateway: bool = True
    worker: bool = True
    model: bool = True
    raises: bool = False

    def gateway_connected(self) -> bool:
        return self.gateway

    def worker_alive(self) -> bool:
        if self.raises:
            raise RuntimeError("worker state unreadable")
        return self.worker

    def model_loaded(self) -> bool:
        return self.model


@pytest.fixture
def probe() -> FakeProbe:
    return FakeProbe()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def server(probe: FakeProbe, metrics: Metrics) -> AsyncIterator[HealthServer]:
    async def stats() -> QueueStats:
        return STATS

    server = await start_health_server("127.0.0.1", 0, probe, metrics, stats)
    yield server
    await server.stop()


@pytest.fixture
async def http(server: HealthServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as session:
        yield session


async def test_healthz_answers_200_with_every_check_when_all_pass(http: aiohttp.ClientSession) -> None:
    async with http.get("/healthz") as response:
        assert response.status == 200
        body = await response.json()

    assert body["status"] == "ok"
    assert (body["gateway"], body["worker"], body["model_loaded"]) == (True, True, True)
    assert body["failed"] == []


async def test_healthz_lists_every_worker_and_which_are_gone(http: aiohttp.ClientSession) -> None:
    async with http.get("/healthz") as response:
        body = await response.json()

    assert [(w["name"], w["host"], w["gpu"], w["alive"]) for w in body["workers"]] == [
        ("gpu-0", "box-a", "cuda:0", True),
        ("gpu-1", "box-b", "cuda:1", False),
    ]
    assert (body["workers"][0]["current_jobs"], body["workers"][0]["jobs_done"]) == (["job1"], 4)
    assert body["workers"][1]["last_heartbeat"] == 1_799_999_000.0


async def test_healthz_answers_503_naming_the_failed_check(http: aiohttp.ClientSession, probe: FakeProbe) -> None:
    probe.model = False

    async with http.get("/healthz") as response:
        assert response.status == 503
        body = await response.json()

    assert body["status"] == "unhealthy"
    assert body["failed"] == ["model_loaded"]


async def test_a_check_that_raises_is_reported_failed_not_as_a_server_error(
    http: aiohttp.ClientSession, probe: FakeProbe
) -> None:
    probe.raises = True

    async with http.get("/healthz") as response:
        assert response.status == 503
        assert (await response.json())["failed"] == ["worker"]


async def test_metrics_serves_the_prometheus_text_format(http: aiohttp.ClientSession) -> None:
    async with http.get("/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()

    assert "# TYPE videobot_jobs_total counter" in text


async def test_metrics_reads_queue_stats_and_the_probe_at_each_scrape(
    http: aiohttp.ClientSession, probe: FakeProbe
) -> None:
    probe.gateway = False

    async with http.get("/metrics") as response:
        text = await response.text()

    assert "videobot_queue_waiting_jobs 3.0" in text
    assert "videobot_gpu_memory_bytes 1024.0" in text
    assert "videobot_gateway_connected 0.0" in text


async def test_metrics_show_the_events_observed(http: aiohttp.ClientSession, metrics: Metrics) -> None:
    metrics.observe(JobFailed("j1", reason="boom"))

    async with http.get("/metrics") as response:
        text = await response.text()

    assert 'videobot_jobs_total{outcome="failed"} 1.0' in text


async def test_metrics_are_served_when_queue_stats_fail(probe: FakeProbe, metrics: Metrics) -> None:
    async def broken_stats() -> QueueStats:
        raise RuntimeError("database is locked")

    server = await start_health_server("127.0.0.1", 0, probe, metrics, broken_stats)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{server.port}/metrics") as response,
        ):
            assert response.status == 200
            assert "videobot_worker_alive 1.0" in await response.text()
    finally:
        await server.stop()


async def _run_healthcheck(port: int | None) -> int:
    env = {key: value for key, value in os.environ.items() if key != "HEALTH_PORT"}
    if port is not None:
        env["HEALTH_PORT"] = str(port)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.healthcheck", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), timeout=PATIENCE_S)


async def test_the_image_healthcheck_passes_against_a_healthy_bot(server: HealthServer) -> None:
    assert await _run_healthcheck(server.port) == 0


async def test_the_image_healthcheck_fails_against_an_unhealthy_bot(server: HealthServer, probe: FakeProbe) -> None:
    probe.gateway = False

    assert await _run_healthcheck(server.port) == 1


async def test_the_image_healthcheck_fails_when_the_health_server_is_off() -> None:
    assert await _run_healthcheck(None) == 1
