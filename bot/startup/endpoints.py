"""Point discord.py at the configured REST and gateway URLs (Discord, a proxy, or the test emulator).

discord.py keeps both as class attributes: REST (webhooks included) goes to `Route.BASE`, and a plain
client connects straight to `DiscordWebSocket.DEFAULT_GATEWAY` without asking `GET /gateway/bot`.
"""

from __future__ import annotations

import discord.gateway
import discord.http
import yarl


def point_discord_at(api_url: str, gateway_url: str) -> None:
    """Send every REST call to `api_url` and open the gateway at `gateway_url` (process-wide)."""
    discord.http.Route.BASE = api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
