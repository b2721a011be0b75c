"""The fast (Rust) validation path gives exactly the verdicts and problems of the pure-Python one.

Seeds are bodies the bot and the emulator really exchange, built by discord.py and by the emulator's
own payloads; hypothesis then breaks them at random places (a wrong type, a missing or unknown key, a
string too long, a NaN) and both paths must agree on every result. Derandomized, so a run is the same
on every machine.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any

import discord
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.discord_emulator.openapi import OpenAPISpec, load_spec
from tests.discord_emulator.payloads import channel_json, me_json, message_json
from tests.discord_emulator.state import EmulatorState

CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
WEBHOOK = "/webhooks/{webhook_id}/{webhook_token}"
MESSAGES = "/channels/{channel_id}/messages"


@dataclass(frozen=True)
class Exchange:
    """A body on one operation: a request when `status` is None, else the reply with that status."""

    method: str
    route: str
    body: Any
    status: int | None = None

    def problems(self, spec: OpenAPISpec, body: Any) -> list[Any]:
        """What `spec` finds wrong with `body` in this place."""
        if self.status is None:
            return spec.request_problems(self.method, self.route, body)
        return spec.response_problems(self.method, self.route, self.status, body)


@functools.cache
def python_only() -> OpenAPISpec:
    """The reference: the spec validated by `jsonschema` alone."""
    return OpenAPISpec(fast=False)


def _status_message() -> dict[str, Any]:
    embed = discord.Embed(title="Rendering", description="a surfer at sunset", colour=0x5865F2)
    embed.add_field(name="Progress", value="▰▰▱▱ step 2/4", inline=False)
    embed.set_footer(text="tiny · seed 7")
    embed.set_author(name="videobot")
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Cancel", custom_id="cancel:1", style=discord.ButtonStyle.danger))
    view.add_item(discord.ui.Select(custom_id="size", options=[discord.SelectOption(label="tiny")]))
    return {"embeds": [embed.to_dict()], "components": view.to_components(), "allowed_mentions": {"parse": []}}


def _modal() -> dict[str, Any]:
    text = {"type": 4, "custom_id": "answer", "label": "Answer", "style": 1, "max_length": 20, "required": True}
    return {"custom_id": "ask", "title": "Ask", "components": [{"type": 1, "components": [text]}]}


def _requests() -> list[Exchange]:
    status = _status_message()
    upload = {"content": "done", "attachments": [{"id": 0, "filename": "video.mp4"}]}
    command = {
        "name": "video",
        "description": "Make a video",
        "type": 1,
        "options": [{"type": 3, "name": "prompt", "description": "What to show", "required": True}],
    }
    return [
        Exchange("POST", MESSAGES, {"content": "posted", **status}),
        Exchange("POST", MESSAGES, upload),
        Exchange("POST", CALLBACK, {"type": 4, "data": {**status, "flags": 64}}),
        Exchange("POST", CALLBACK, {"type": 5, "data": {"flags": 64}}),
        Exchange("POST", CALLBACK, {"type": 7, "data": status}),
        Exchange("POST", CALLBACK, {"type": 9, "data": _modal()}),
        Exchange("POST", WEBHOOK, {**upload, "flags": 64}),
        Exchange("PATCH", WEBHOOK + "/messages/@original", status),
        Exchange("PUT", "/applications/{application_id}/commands", [command]),
    ]


def _replies() -> list[Exchange]:
    state = EmulatorState()
    guild = state.add_guild("g", 10 * 2**20)
    channel = state.add_channel(guild, "general", nsfw=False, bot_permissions=None)
    message = message_json(state.create_message(channel.id, _status_message(), []), state)
    form_error = {"content": {"_errors": [{"code": 50035, "message": "Must be 2000 or fewer in length."}]}}
    return [
        Exchange("POST", MESSAGES, message, 200),
        Exchange("PATCH", WEBHOOK + "/messages/@original", message, 200),
        Exchange("GET", "/channels/{channel_id}", channel_json(channel), 200),
        Exchange("GET", "/users/@me", me_json(state.bot_user), 200),
        Exchange("POST", MESSAGES, {"message": "Invalid Form Body", "code": 50035, "errors": form_error}, 400),
        Exchange("POST", MESSAGES, {"message": "Slow down.", "code": 0, "retry_after": 1.5, "global": False}, 429),
    ]


SEEDS = _requests() + _replies()
# Keys the schemas care about, so an added key sometimes lands where it means something.
KEYS = ["type", "id", "content", "flags", "components", "custom_id", "style", "label", "url", "embeds", "title"]
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "123", "x" * 101, "x" * 257, "x" * 2001, "x" * 4097])
)
VALUES = st.recursive(
    LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=3),
    max_leaves=5,
)


def _broken(body: Any, data: st.DataObject) -> Any:
    """`body` with one place in it replaced, removed or given an extra key."""
    if not isinstance(body, dict | list) or not body or data.draw(st.integers(0, 3)) == 0:
        return data.draw(VALUES)
    key = data.draw(st.sampled_from(sorted(body) if isinstance(body, dict) else range(len(body))))
    change = data.draw(st.sampled_from(["descend", "descend", "remove", "add"]))
    if change == "remove":
        del body[key]
    elif change == "add" and isinstance(body, dict):
        body[data.draw(st.sampled_from(KEYS))] = data.draw(VALUES)
    else:
        body[key] = _broken(body[key], data)
    return body


@pytest.mark.parametrize("exchange", SEEDS, ids=lambda e: f"{e.method} {e.route} {e.status or 'request'}")
def test_real_bodies_are_valid_both_ways(exchange: Exchange) -> None:
    assert exchange.problems(load_spec(), exchange.body) == []
    assert exchange.problems(python_only(), exchange.body) == []


@settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(exchange=st.sampled_from(SEEDS), data=st.data())
def test_broken_bodies_get_the_same_problems_both_ways(exchange: Exchange, data: st.DataObject) -> None:
    body = copy.deepcopy(exchange.body)
    for _ in range(data.draw(st.integers(1, 3))):
        body = _broken(body, data)
    expected = exchange.problems(python_only(), body)
    assert exchange.problems(load_spec(), body) == expected


def test_where_rust_is_stricter_pythons_verdict_stands() -> None:
    # Python's json reads NaN as a number, which the spec's `retry_after: number` accepts; Rust refuses it.
    nan = {"message": "Slow down.", "code": 0, "retry_after": float("nan"), "global": False}
    exchange = Exchange("POST", MESSAGES, nan, 429)
    assert exchange.problems(load_spec(), exchange.body) == []
