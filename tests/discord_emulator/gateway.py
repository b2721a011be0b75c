"""The emulated gateway: the bot's sessions, one per shard (`sessions.py`), over plain-JSON WebSockets.

discord.py asks for `compress=zlib-stream`, but it only inflates binary frames, so text frames are
answered uncompressed. Each event goes to the session of its guild's shard; dispatches carry increasing
sequence numbers and are kept for the session's life, so a client that reconnects with RESUME gets what
it missed, then RESUMED; a session that was invalidated gets INVALID_SESSION and must IDENTIFY again.
A new IDENTIFY for a shard replaces that shard's session; one with another shard count starts a new
sharding, unless a session of the old one is still connected (4010).

The heartbeat is enforced: HELLO gives `heartbeat_interval` (41,250 ms unless a test sets
`heartbeat_interval_ms` before the client connects), and a connection that sends no HEARTBEAT for
`HEARTBEAT_GRACE` times that (from HELLO, then from its latest one) is closed with 4000. That is what
happens to a bot whose event loop is blocked. Discord documents no close code for it; 4000 (unknown
error) is one it documents as "reconnect", and the session is kept, so discord.py reconnects and
RESUMEs. The check runs on the emulator's pacing clock, so a test with a fake one decides when a
heartbeat is overdue.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from .pacing import Pacing
from .payloads import guild_json, me_json, member_json
from .sessions import Close, Dispatch, Session, Shard, requested_shard, shard_of
from .state import EmulatorState

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MS = 41_250
# discord.py beats at once on HELLO and then every interval from a thread; half an interval of slack
# absorbs a busy machine, while a loop blocked for longer is caught.
HEARTBEAT_GRACE = 1.5


class Op(enum.IntEnum):
    """Gateway opcodes."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


@dataclass
class _Connection:
    """One client socket and when its heartbeat was last heard (pacing seconds)."""

    ws: web.WebSocketResponse
    interval: float
    heard_at: float
    silenced: bool = False


class Gateway:
    """Serves `/gateway`: a session per shard the bot identifies, each sent its guilds' events."""

    def __init__(self, state: EmulatorState, pacing: Pacing) -> None:
        self._state = state
        self._pacing = pacing
        self.url = ""
        self.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS
        #: What GET /gateway/bot recommends; with `sharding_required`, an IDENTIFY with fewer shards gets 4011.
        self.recommended_shards = 1
        self.sharding_required = False
        #: The sessions of the current sharding, by shard id.
        self.sessions: dict[int, Session] = {}
        self.shard_count = 1
        self.identify_count = 0
        self.resume_count = 0
        self.replayed: list[Dispatch] = []
        self.intents: int | None = None

    @property
    def ready(self) -> bool:
        """Whether every shard of the current sharding identified and was sent its guilds."""
        return len(self.sessions) == self.shard_count and all(session.ready for session in self.sessions.values())

    @property
    def connected(self) -> bool:
        """Whether every session is live on an open socket (and there is one)."""
        return bool(self.sessions) and all(session.connected for session in self.sessions.values())

    def session_for(self, guild_id: int | None) -> Session | None:
        """The session that carries `guild_id`'s events (None: direct messages), if its shard identified."""
        return self.sessions.get(shard_of(guild_id, self.shard_count))

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """The aiohttp handler for `GET /gateway` (the WebSocket upgrade)."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        interval_ms = self.heartbeat_interval_ms
        connection = _Connection(ws, interval_ms / 1000, heard_at=self._pacing.now())
        watchdog = asyncio.create_task(self._watch_heartbeats(connection))
        try:
            await ws.send_str(json.dumps({"op": Op.HELLO, "d": {"heartbeat_interval": interval_ms}}))
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                await self._receive(connection, json.loads(frame.data))
        finally:
            if not connection.silenced:  # else the watchdog is closing the socket: let it finish
                watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            for session in self.sessions.values():
                if session.socket is ws:
                    session.socket = None
            self._state.notify()
        return ws

    def enqueue(self, event: str, data: dict[str, Any], guild_id: int | None = None) -> Dispatch:
        """Give an event for `guild_id` (None: no guild) its sequence number on that guild's shard now;
        `flush` sends it. Events reach the bot in the order they were enqueued, even when sent from
        different tasks."""
        session = self.session_for(guild_id)
        if session is None:
            raise RuntimeError(f"cannot dispatch {event}: the shard of guild {guild_id} has not identified")
        return session.enqueue(event, data)

    async def flush(self) -> None:
        """Send every event each session has not had yet; a disconnected one's wait for RESUME."""
        for session in list(self.sessions.values()):
            await session.flush()

    async def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None = None) -> Dispatch:
        """Enqueue an event for `guild_id`'s shard and send what is pending."""
        dispatch = self.enqueue(event, data, guild_id)
        await self.flush()
        return dispatch

    async def disconnect(self, *, code: int = Close.UNKNOWN_ERROR, invalidate_session: bool = False) -> None:
        """Drop every session's socket as Discord does on a gateway restart; the client reconnects and
        resumes, or, with `invalidate_session`, is told to identify afresh."""
        sessions = list(self.sessions.values())
        if invalidate_session:
            self.sessions = {}
        for session in sessions:
            socket, session.socket = session.socket, None
            if socket is not None:
                await socket.close(code=code, message=b"emulated disconnect")
        self._state.notify()

    async def shutdown(self) -> None:
        """Close every socket for good (the emulator is stopping)."""
        for session in self.sessions.values():
            socket, session.socket = session.socket, None
            if socket is not None:
                await socket.close(code=1001, message=b"emulator stopped")

    async def _watch_heartbeats(self, connection: _Connection) -> None:
        """Close the connection once it has been silent for longer than its interval allows."""
        while (overdue_in := connection.heard_at + connection.interval * HEARTBEAT_GRACE - self._pacing.now()) > 0:
            await self._pacing.sleep(overdue_in)
        connection.silenced = True
        log.info("gateway: no heartbeat for %.1f s, closing", connection.interval * HEARTBEAT_GRACE)
        await connection.ws.close(code=Close.UNKNOWN_ERROR, message=b"heartbeat missed")

    async def _receive(self, connection: _Connection, payload: dict[str, Any]) -> None:
        ws = connection.ws
        op = payload.get("op")
        data: Any = payload.get("d")
        if op == Op.HEARTBEAT:
            connection.heard_at = self._pacing.now()
            await ws.send_str(json.dumps({"op": Op.HEARTBEAT_ACK}))
        elif op == Op.IDENTIFY:
            await self._identify(ws, data)
        elif op == Op.RESUME:
            await self._resume(ws, data)
        elif op == Op.REQUEST_GUILD_MEMBERS:
            await self._send_members(data)
        elif op != Op.PRESENCE_UPDATE:
            log.warning("gateway: ignoring op %s", op)

    def _refusal(self, shard: Shard) -> tuple[Close, str] | None:
        """Why Discord would close an IDENTIFY for `shard`, if it would."""
        if self.sharding_required and shard.count < self.recommended_shards:
            return Close.SHARDING_REQUIRED, "Sharding required."
        # One sharding at a time: a live session of another shard count would leave guilds unrouted.
        if shard.count != self.shard_count and any(session.connected for session in self.sessions.values()):
            return Close.INVALID_SHARD, "Invalid shard."
        return None

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self._state.bot_token:
            await ws.close(code=Close.AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        shard = requested_shard(data.get("shard"))
        if shard is None:
            await ws.close(code=Close.INVALID_SHARD, message=b"Invalid shard.")
            return
        refusal = self._refusal(shard)
        if refusal is not None:
            await ws.close(code=refusal[0], message=refusal[1].encode())
            return
        self.identify_count += 1
        self.intents = data.get("intents")
        if shard.count != self.shard_count:
            self.sessions = {}
            self.shard_count = shard.count
        session = Session(shard, secrets.token_hex(16), ws)
        self.sessions[shard.id] = session
        state = self._state
        guilds = [guild for guild in list(state.guilds.values()) if shard.holds(guild.id)]
        session.enqueue(
            "READY",
            {
                "v": 10,
                "user": me_json(state.bot_user),
                "guilds": [{"id": str(guild.id), "unavailable": True} for guild in guilds],
                "session_id": session.session_id,
                "session_type": "normal",
                "resume_gateway_url": self.url,
                "application": {"id": str(state.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "geo_ordered_rtc_regions": [],
                "_trace": ["emulator"],
                **({"shard": [shard.id, shard.count]} if "shard" in data else {}),
            },
        )
        await session.flush()
        for guild in guilds:
            session.enqueue("GUILD_CREATE", guild_json(guild, state.clock.utcnow().isoformat()))
            await session.flush()
        session.ready = True
        state.notify()

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self._state.bot_token:
            await ws.close(code=Close.AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        session = next((s for s in self.sessions.values() if s.session_id == data.get("session_id")), None)
        if session is None:
            await ws.send_str(json.dumps({"op": Op.INVALID_SESSION, "d": False}))
            return
        seen = data.get("seq") or 0
        async with session.send_lock:
            session.socket = ws
            session.delivered = seen
            self.replayed.extend(session.dispatches[seen:])
        self.resume_count += 1
        session.enqueue("RESUMED", {"_trace": ["emulator"]})
        await session.flush()
        self._state.notify()

    async def _send_members(self, data: dict[str, Any]) -> None:
        guild = self._state.guilds.get(int(data["guild_id"]))
        members = [member_json(m) for m in guild.members.values()] if guild else []
        chunk = {"guild_id": data["guild_id"], "members": members, "chunk_index": 0, "chunk_count": 1}
        if "nonce" in data:
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk, int(data["guild_id"]))
