"""The emulated gateway: one bot session over a plain-JSON WebSocket.

discord.py asks for `compress=zlib-stream`, but it only inflates binary frames, so text frames are
answered uncompressed. Dispatches carry increasing sequence numbers and are kept for the session's
life, so a client that reconnects with RESUME gets what it missed, then RESUMED; a session that was
invalidated gets INVALID_SESSION and must IDENTIFY again.

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


class Close(enum.IntEnum):
    """Close codes the emulator uses."""

    UNKNOWN_ERROR = 4000
    AUTHENTICATION_FAILED = 4004


@dataclass
class _Connection:
    """One client socket and when its heartbeat was last heard (pacing seconds)."""

    ws: web.WebSocketResponse
    interval: float
    heard_at: float
    silenced: bool = False


@dataclass(frozen=True)
class Dispatch:
    """One event sent (or queued) on the session, as the client sees it."""

    seq: int
    event: str
    data: dict[str, Any]


class Gateway:
    """Serves `/gateway` and sends events to the connected bot."""

    def __init__(self, state: EmulatorState, pacing: Pacing) -> None:
        self._state = state
        self._pacing = pacing
        self.url = ""
        self.heartbeat_interval_ms = HEARTBEAT_INTERVAL_MS
        self.session_id: str | None = None
        self.dispatches: list[Dispatch] = []
        self.ready = False
        self.identify_count = 0
        self.resume_count = 0
        self.replayed: list[Dispatch] = []
        self.intents: int | None = None
        self._socket: web.WebSocketResponse | None = None
        self._send_lock = asyncio.Lock()
        # How many of `dispatches` the client has been sent on its current stream.
        self._delivered = 0

    @property
    def connected(self) -> bool:
        """Whether a session is live on an open socket."""
        return self._socket is not None and not self._socket.closed

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
            if self._socket is ws:
                self._socket = None
                self._state.notify()
        return ws

    def enqueue(self, event: str, data: dict[str, Any]) -> Dispatch:
        """Give an event its sequence number now; `flush` sends it. Events reach the bot in the order
        they were enqueued, even when sent from different tasks."""
        if self.session_id is None:
            raise RuntimeError(f"cannot dispatch {event}: the bot has not identified yet")
        dispatch = Dispatch(seq=len(self.dispatches) + 1, event=event, data=data)
        self.dispatches.append(dispatch)
        return dispatch

    async def flush(self) -> None:
        """Send every event the bot has not had yet; while it is disconnected they wait for RESUME."""
        async with self._send_lock:
            while self.connected and self._delivered < len(self.dispatches):
                await self._send(self.dispatches[self._delivered])

    async def dispatch(self, event: str, data: dict[str, Any]) -> Dispatch:
        """Enqueue an event and send what is pending."""
        dispatch = self.enqueue(event, data)
        await self.flush()
        return dispatch

    async def disconnect(self, *, code: int = Close.UNKNOWN_ERROR, invalidate_session: bool = False) -> None:
        """Drop the socket as Discord does on a gateway restart; the client reconnects and resumes,
        or, with `invalidate_session`, is told to identify afresh."""
        if invalidate_session:
            self.session_id = None
            self.ready = False
        socket = self._socket
        self._socket = None
        if socket is not None:
            await socket.close(code=code, message=b"emulated disconnect")
        self._state.notify()

    async def shutdown(self) -> None:
        """Close the socket for good (the emulator is stopping)."""
        socket, self._socket = self._socket, None
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

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self._state.bot_token:
            await ws.close(code=Close.AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        self.identify_count += 1
        self.intents = data.get("intents")
        self.session_id = secrets.token_hex(16)
        self.dispatches = []
        self._delivered = 0
        self._socket = ws
        state = self._state
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": me_json(state.bot_user),
                "guilds": [{"id": str(guild_id), "unavailable": True} for guild_id in state.guilds],
                "session_id": self.session_id,
                "session_type": "normal",
                "resume_gateway_url": self.url,
                "application": {"id": str(state.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "geo_ordered_rtc_regions": [],
                "_trace": ["emulator"],
            },
        )
        for guild in list(state.guilds.values()):
            await self.dispatch("GUILD_CREATE", guild_json(guild, state.clock.utcnow().isoformat()))
        self.ready = True
        state.notify()

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self._state.bot_token:
            await ws.close(code=Close.AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        if self.session_id is None or data.get("session_id") != self.session_id:
            await ws.send_str(json.dumps({"op": Op.INVALID_SESSION, "d": False}))
            return
        seen = data.get("seq") or 0
        async with self._send_lock:
            self._socket = ws
            self._delivered = seen
            self.replayed.extend(self.dispatches[seen:])
        self.resume_count += 1
        await self.dispatch("RESUMED", {"_trace": ["emulator"]})
        self._state.notify()

    async def _send_members(self, data: dict[str, Any]) -> None:
        guild = self._state.guilds.get(int(data["guild_id"]))
        members = [member_json(m) for m in guild.members.values()] if guild else []
        chunk = {"guild_id": data["guild_id"], "members": members, "chunk_index": 0, "chunk_count": 1}
        if "nonce" in data:
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def _send(self, dispatch: Dispatch) -> None:
        assert self._socket is not None
        frame = {"op": Op.DISPATCH, "s": dispatch.seq, "t": dispatch.event, "d": dispatch.data}
        try:
            await self._socket.send_str(json.dumps(frame))
        except ConnectionError:
            # The client went away mid-send; the dispatch stays queued for its RESUME.
            self._socket = None
        else:
            self._delivered += 1
