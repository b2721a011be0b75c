"""Gateway sessions, one per shard, and Discord's rule for which shard a guild's events go to.

A bot that IDENTIFYs with `"shard": [shard_id, shard_count]` gets a session carrying only the events of
the guilds whose `(guild_id >> 22) % shard_count` is `shard_id`; events without a guild (direct
messages) go to shard 0. One without `shard` is shard 0 of 1: every guild. Discord closes an IDENTIFY
naming a shard outside `0..shard_count - 1` with 4010 (invalid shard), and one with fewer shards than a
large bot needs with 4011 (sharding required).

Each session keeps its events for its life, with increasing sequence numbers, so a client that
reconnects with RESUME gets what it missed.
"""

from __future__ import annotations

import asyncio
import enum
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DISPATCH_OP = 0


class Close(enum.IntEnum):
    """Close codes the emulator uses."""

    UNKNOWN_ERROR = 4000
    AUTHENTICATION_FAILED = 4004
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011


@dataclass(frozen=True)
class Shard:
    """Shard `id` of `count`, as IDENTIFY's `shard` names it."""

    id: int
    count: int

    def holds(self, guild_id: int | None) -> bool:
        """Whether the events of `guild_id` (None: no guild) are this shard's."""
        return shard_of(guild_id, self.count) == self.id


UNSHARDED = Shard(0, 1)


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard that carries `guild_id`'s events: Discord's `(guild_id >> 22) % shard_count`."""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


def requested_shard(value: object) -> Shard | None:
    """IDENTIFY's `shard` field as a `Shard` (absent: `UNSHARDED`); None when Discord would refuse it."""
    if value is None:
        return UNSHARDED
    if not (isinstance(value, list) and len(value) == 2 and all(type(part) is int for part in value)):
        return None
    shard_id, count = value
    return Shard(shard_id, count) if 0 <= shard_id < count else None


@dataclass(frozen=True)
class Dispatch:
    """One event sent (or queued) on a session, as the client sees it."""

    seq: int
    event: str
    data: dict[str, Any]


@dataclass
class Session:
    """One shard's identified session: its events in order, and the socket it is sent on (None while the
    client is away; its events wait for RESUME)."""

    shard: Shard
    session_id: str
    socket: web.WebSocketResponse | None
    dispatches: list[Dispatch] = field(default_factory=list)
    ready: bool = False
    # How many of `dispatches` the client has been sent on its current stream.
    delivered: int = 0
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def connected(self) -> bool:
        """Whether the session is live on an open socket."""
        return self.socket is not None and not self.socket.closed

    def enqueue(self, event: str, data: dict[str, Any]) -> Dispatch:
        """Give an event its sequence number now; `flush` sends it."""
        dispatch = Dispatch(seq=len(self.dispatches) + 1, event=event, data=data)
        self.dispatches.append(dispatch)
        return dispatch

    async def flush(self) -> None:
        """Send every event the client has not had yet; while it is away they wait for RESUME."""
        async with self.send_lock:
            while self.connected and self.delivered < len(self.dispatches):
                await self._send(self.dispatches[self.delivered])

    async def _send(self, dispatch: Dispatch) -> None:
        assert self.socket is not None
        frame = {"op": DISPATCH_OP, "s": dispatch.seq, "t": dispatch.event, "d": dispatch.data}
        try:
            await self.socket.send_str(json.dumps(frame))
        except ConnectionError:
            # The client went away mid-send; the dispatch stays queued for its RESUME.
            self.socket = None
        else:
            self.delivered += 1
