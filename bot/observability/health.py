"""The health server: `GET /healthz` for Docker and orchestrators, `GET /metrics` for Prometheus.

Off unless `HEALTH_PORT` is set. It runs on the bot's event loop, so both handlers only read cheap
in-memory state (the probe) and, for /metrics, await the queue's `stats()`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.observability.metrics import Metrics
from bot.observability.probe import HealthProbe, read_probe
from generation.queue.interface import QueueStats, WorkerStatus

log = logging.getLogger(__name__)

StatsSource = Callable[[], Awaitable[QueueStats]]
"""Where /metrics gets queue counters at each scrape, typically `queue.stats`."""


class HealthServer:
    """An aiohttp server for /healthz and /metrics; build it with `start_health_server`."""

    def __init__(
        self,
        probe: HealthProbe,
        metrics: Metrics,
        stats: StatsSource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._metrics = metrics
        self._stats = stats
        self._clock = clock
        self._started_at = clock()
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        # The Docker healthcheck polls every 30 s: access lines would drown the bot's own logs.
        self._runner = web.AppRunner(app, access_log=None)

    @property
    def port(self) -> int:
        """The port actually bound (useful when started on port 0)."""
        return int(self._runner.addresses[0][1])

    async def start(self, host: str, port: int) -> None:
        """Bind and serve until `stop`."""
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        log.info("health server listening on http://%s:%d (/healthz, /metrics)", host, self.port)

    async def stop(self) -> None:
        """Close the listening socket and finish in-flight requests."""
        await self._runner.cleanup()

    async def _healthz(self, _request: web.Request) -> web.Response:
        report = read_probe(self._probe)
        body: dict[str, object] = {
            "status": "ok" if report.ok else "unhealthy",
            "gateway": report.gateway,
            "worker": report.worker,
            "model_loaded": report.model_loaded,
            "failed": report.failed,
            "uptime_s": round(self._clock() - self._started_at, 1),
        }
        if self._stats is not None:
            try:
                body["workers"] = [_worker_json(worker) for worker in (await self._stats()).workers]
            except Exception:
                log.warning("queue stats unavailable for /healthz", exc_info=True)
        return web.json_response(body, status=200 if report.ok else 503)

    async def _metrics_page(self, _request: web.Request) -> web.Response:
        self._metrics.set_health(read_probe(self._probe))
        if self._stats is not None:
            try:
                self._metrics.refresh(await self._stats())
            except Exception:
                # Serve the other series anyway: a scrape that fails whole hides what still works.
                log.warning("queue stats unavailable for /metrics", exc_info=True)
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _worker_json(worker: WorkerStatus) -> dict[str, object]:
    return {
        "name": worker.name,
        "host": worker.host,
        "gpu": worker.gpu,
        "current_jobs": list(worker.current_jobs),
        "jobs_done": worker.jobs_done,
        "last_heartbeat": worker.last_heartbeat,
        "alive": worker.alive,
    }


async def start_health_server(
    host: str, port: int, probe: HealthProbe, metrics: Metrics, stats: StatsSource | None = None
) -> HealthServer:
    """Start serving /healthz and /metrics on `host:port`; call `stop()` on the result at shutdown."""
    server = HealthServer(probe, metrics, stats)
    await server.start(host, port)
    return server
