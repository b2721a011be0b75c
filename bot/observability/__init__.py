"""Health and metrics for operators: `/healthz`, `/metrics` (Prometheus), fed by the bot and its queue.

Wiring, in the bot's start-up (all optional; nothing runs unless `HEALTH_PORT` is set):

    metrics = Metrics()
    consumer = asyncio.create_task(metrics.consume(queue.subscribe()))
    server = await start_health_server(
        settings.health_host, settings.health_port, probe, metrics, stats=queue.stats
    )
    ...
    await server.stop()

`probe` is any object with `gateway_connected()`, `worker_alive()` and `model_loaded()` (see
`HealthProbe`); Discord REST failures are counted with `metrics.record_http_exception(error)`.
"""

from bot.observability.health import HealthServer, StatsSource, start_health_server
from bot.observability.metrics import Metrics, route_bucket
from bot.observability.probe import HealthProbe, HealthReport, read_probe

__all__ = [
    "HealthProbe",
    "HealthReport",
    "HealthServer",
    "Metrics",
    "StatsSource",
    "read_probe",
    "route_bucket",
    "start_health_server",
]
