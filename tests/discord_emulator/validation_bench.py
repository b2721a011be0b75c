"""What validating one request costs the emulator: the Rust fast path against the pure-Python one.

    python -m tests.discord_emulator.validation_bench [--rounds 300]

Each exchange is what the bot does most under load, its bodies built by discord.py itself: the
acknowledgement of `/video` (a response with an embed and buttons), a status edit of the original
response, and a message posted in a channel. Each is validated both ways as the pipeline does (the
request body, then the reply), best of five runs of `rounds`. Prints figures only; no assertions.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import discord

from .models import Message
from .openapi import OpenAPISpec
from .payloads import message_json
from .state import EmulatorState

_CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
_ORIGINAL = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
_MESSAGES = "/channels/{channel_id}/messages"


def _status_message() -> dict[str, Any]:
    """A status message as the bot sends it: an embed with fields and a footer, a row of buttons."""
    embed = discord.Embed(title="Queued", description="a surfer riding a wave at sunset", colour=0x5865F2)
    embed.add_field(name="Requested by", value="<@1234567890>", inline=True)
    embed.add_field(name="Position", value="#3", inline=True)
    embed.add_field(name="Ready", value="in about 2 min", inline=True)
    embed.set_footer(text="small · 16 frames · 25 steps · seed 42")
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Cancel", custom_id="cancel:1", style=discord.ButtonStyle.danger))
    view.add_item(discord.ui.Button(label="Again", custom_id="again:1", style=discord.ButtonStyle.secondary))
    return {
        "embeds": [embed.to_dict()],
        "components": view.to_components(),
        "allowed_mentions": discord.AllowedMentions.none().to_dict(),
    }


def _exchanges() -> list[tuple[str, Callable[[OpenAPISpec], object]]]:
    state = EmulatorState()
    guild = state.add_guild("g", 10 * 2**20)
    channel = state.add_channel(guild, "general", nsfw=False, bot_permissions=None)
    body = _status_message()
    message: Message = state.create_message(channel.id, body, [])
    reply = message_json(message, state)
    return [
        (
            "ack /video (POST callback, 204)",
            lambda spec: (
                spec.request_problems("POST", _CALLBACK, {"type": 4, "data": body}),
                spec.response_problems("POST", _CALLBACK, 204, None),
            ),
        ),
        (
            "status edit (PATCH @original, 200)",
            lambda spec: (
                spec.request_problems("PATCH", _ORIGINAL, body),
                spec.response_problems("PATCH", _ORIGINAL, 200, reply),
            ),
        ),
        (
            "channel post (POST messages, 200)",
            lambda spec: (
                spec.request_problems("POST", _MESSAGES, {"content": "done", **body}),
                spec.response_problems("POST", _MESSAGES, 200, reply),
            ),
        ),
    ]


def _best_per_call(validate: Callable[[OpenAPISpec], object], spec: OpenAPISpec, rounds: int) -> float:
    validate(spec)  # builds and caches the validators, which the suite pays once per process
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            validate(spec)
        best = min(best, (time.perf_counter() - started) / rounds)
    return best


def main() -> None:
    """Print µs per exchange for both paths."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds
    fast, python = OpenAPISpec(), OpenAPISpec(fast=False)
    print(f"{'exchange':40} {'python µs':>10} {'fast µs':>10} {'speed-up':>9}")
    for name, validate in _exchanges():
        slow_s = _best_per_call(validate, python, rounds)
        fast_s = _best_per_call(validate, fast, rounds)
        print(f"{name:40} {slow_s * 1e6:10.1f} {fast_s * 1e6:10.1f} {slow_s / fast_s:8.0f}x")


if __name__ == "__main__":
    main()
