"""/healthz and /metrics over real HTTP while the bot runs against the emulator."""

from __future__ import annotations

import re
import socket

import aiohttp

from tests.fixtures.bot import StartBot, finished


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample(metrics: str, name: str, labels: str = "") -> float:
    found = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_healthz_reports_gateway_worker_and_model(start_bot: StartBot) -> None:
    port = free_port()
    await start_bot(health_port=port, health_host="127.0.0.1")

    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
        body = await response.json()

    assert response.status == 200
    assert (body["gateway"], body["worker"], body["model_loaded"]) == (True, True, True)


async def test_metrics_count_jobs_as_they_run(start_bot: StartBot) -> None:
    port = free_port()
    running = await start_bot(health_port=port, health_host="127.0.0.1")
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            before = await response.text()
        interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a cat"})
        await finished(running.emulator, interaction)
        async with http.get(url) as response:
            after = await response.text()

    succeeded = 'videobot_jobs_total{outcome="succeeded"}'
    assert sample(before, succeeded) == 0
    assert sample(after, succeeded) == 1
    assert sample(after, "videobot_job_duration_seconds_count", '{outcome="succeeded"}') == 1
    assert sample(after, "videobot_job_wait_seconds_count") == 1
    assert sample(after, "videobot_gpu_memory_bytes") == 2**30
