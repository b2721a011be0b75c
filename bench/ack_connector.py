"""What the bot's connector limit does to a burst of small Discord calls while videos upload.

    python -m bench.ack_connector [--limits 0 8 32 100] [--uploads 8] [--upload-mb 4] [--calls 300]

A local aiohttp server stands in for Discord: a small call (an interaction callback) is answered after
`--rtt-ms`, and an upload is read at `--uplink-mbps` (a home or VPS uplink, not localhost), so a video
of a few MB holds its connection for about as long as it would in production. Through one
`aiohttp.TCPConnector` per limit (0: unbounded, as discord.py's own; 100: `bot.startup.client`'s),
`--uploads` videos start uploading and then `--calls` small calls go out within one second. Reported:
the small calls' latency p50 / p99 / max, how long the uploads took, and how many TCP connections
the server accepted (each one a handshake, and against Discord a TLS handshake too). Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Sequence

import aiohttp
from aiohttp import web

CHUNK = 64 * 1024


async def serve(rtt_s: float, uplink_bytes_s: float) -> tuple[web.AppRunner, int, set[object]]:
    """The stand-in for Discord: its runner, its port, and the client ends (host, port) of every
    connection it served, one per TCP connection."""
    peers: set[object] = set()

    async def small(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        await request.read()
        await asyncio.sleep(rtt_s)
        return web.json_response({"ok": True})

    async def upload(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        received = 0
        while chunk := await request.content.read(CHUNK):
            received += len(chunk)
            await asyncio.sleep(len(chunk) / uplink_bytes_s)
        return web.json_response({"bytes": received})

    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_post("/callback", small)
    app.router.add_post("/upload", upload)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    return runner, port, peers


async def measure(limit: int, args: argparse.Namespace) -> str:
    """One limit: uploads in flight, then a second's burst of small calls; a table row."""
    runner, port, peers = await serve(args.rtt_ms / 1000, args.uplink_mbps * 1e6 / 8)
    base = f"http://127.0.0.1:{port}"
    video = bytes(int(args.upload_mb * 2**20))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit, keepalive_timeout=30)) as http:

            async def upload() -> float:
                start = time.perf_counter()
                form = aiohttp.FormData()
                form.add_field("files[0]", video, filename="video.mp4", content_type="video/mp4")
                async with http.post(f"{base}/upload", data=form) as response:
                    await response.read()
                return time.perf_counter() - start

            async def call(delay: float) -> float:
                await asyncio.sleep(delay)
                start = time.perf_counter()
                async with http.post(f"{base}/callback", json={"type": 4, "data": {"content": "ok"}}) as response:
                    await response.read()
                return time.perf_counter() - start

            uploads = [asyncio.create_task(upload()) for _ in range(args.uploads)]
            await asyncio.sleep(0.05)  # the uploads hold their connections first
            latencies = await asyncio.gather(*(call(n / args.calls) for n in range(args.calls)))
            upload_s = await asyncio.gather(*uploads)
    finally:
        await runner.cleanup()
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]
    slowest_upload = max(upload_s) if upload_s else 0.0
    return (
        f"{limit or 'none':>6}{statistics.median(latencies) * 1000:>9.1f}{p99 * 1000:>9.1f}"
        f"{max(latencies) * 1000:>9.1f}{slowest_upload:>11.2f}{len(peers):>13}"
    )


async def run(args: argparse.Namespace) -> None:
    """Every limit in turn, a fresh server and connector each."""
    print(
        f"{args.uploads} uploads of {args.upload_mb} MB at {args.uplink_mbps} Mbit/s in flight, then {args.calls} "
        f"calls in one second, {args.rtt_ms} ms round trip"
    )
    print(f"{'limit':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'upload s':>11}{'connections':>13}")
    for limit in args.limits:
        print(await measure(limit, args))


def entry(argv: Sequence[str] | None = None) -> None:
    """`python -m bench.ack_connector`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limits", type=int, nargs="+", default=[0, 8, 32, 100], help="0: unbounded")
    parser.add_argument("--uploads", type=int, default=8)
    parser.add_argument("--upload-mb", type=float, default=4.0)
    parser.add_argument("--uplink-mbps", type=float, default=100.0)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rtt-ms", type=float, default=30.0)
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    entry()
