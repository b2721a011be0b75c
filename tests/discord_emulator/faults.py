"""Fault injection: make Discord misbehave on purpose, the ways it does in production.

REST faults match a route by method and OpenAPI path template (e.g. `"POST"`,
`"/webhooks/{webhook_id}/{webhook_token}"`) and apply to the next N matching requests. Gateway faults
act at once on the live socket.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .protocol import Reply
from .ratelimits import Scope, too_many_requests

if TYPE_CHECKING:
    from .gateway import Gateway


class FaultKind(enum.Enum):
    """What a REST fault does to a matching request."""

    SERVER_ERROR = "server error"
    REFUSAL = "refusal"
    RATE_LIMIT = "rate limit"
    DELAY = "delay"
    HOLD = "hold"
    DROP = "drop"


@dataclass
class Fault:
    """One armed fault; `remaining` counts down as matching requests hit it."""

    kind: FaultKind
    method: str
    route: str
    remaining: int
    status: int = 500
    retry_after: float = 0.0
    is_global: bool = False
    delay: float = 0.0
    after_serving: bool = False
    code: int = 0
    # HOLD: requests wait here until `Faults.release`; `holding` counts those that arrived.
    released: asyncio.Event = field(default_factory=asyncio.Event)
    holding: int = 0


class Faults:
    """The faults armed on one emulator."""

    def __init__(self, gateway: Gateway, on_change: Callable[[], None]) -> None:
        self._gateway = gateway
        self._on_change = on_change
        self.armed: list[Fault] = []

    def fail(self, method: str, route: str, *, status: int = 500, times: int = 1, after_serving: bool = False) -> Fault:
        """Answer the next `times` matching requests with a 5xx (discord.py retries 500/502/504/524), in
        place of serving them or, with `after_serving`, once they took effect (a gateway timeout)."""
        if status < 500:
            raise ValueError("fail() injects server errors; use rate_limit() for 429")
        fault = Fault(FaultKind.SERVER_ERROR, method.upper(), route, times, status=status, after_serving=after_serving)
        return self._arm(fault)

    def refuse(self, method: str, route: str, *, status: int = 403, code: int = 50013, times: int = 1) -> Fault:
        """Answer the next `times` matching requests with a 4xx refusal, as for a lost permission
        (403, 50013 Missing Permissions, the default) or a deleted channel (404, 10003)."""
        if not 400 <= status < 500 or status == 429:
            raise ValueError("refuse() injects 4xx refusals; use rate_limit() for 429 and fail() for 5xx")
        return self._arm(Fault(FaultKind.REFUSAL, method.upper(), route, times, status=status, code=code))

    def rate_limit(
        self, method: str, route: str, *, retry_after: float = 0.1, is_global: bool = False, times: int = 1
    ) -> Fault:
        """Answer the next `times` matching requests with a 429 as Discord sends it, whatever the
        emulator's own rate limits say."""
        fault = Fault(
            FaultKind.RATE_LIMIT,
            method.upper(),
            route,
            times,
            status=429,
            retry_after=retry_after,
            is_global=is_global,
        )
        return self._arm(fault)

    def delay(self, method: str, route: str, *, seconds: float, times: int = 1) -> Fault:
        """Hold the next `times` matching requests for `seconds` before serving them (a slow upload)."""
        return self._arm(Fault(FaultKind.DELAY, method.upper(), route, times, delay=seconds))

    def hold(self, method: str, route: str, *, times: int = 1) -> Fault:
        """Keep the next `times` matching requests waiting until `release(fault)`, then serve them (an upload
        still in flight for as long as the test needs; `fault.holding` counts the requests waiting)."""
        return self._arm(Fault(FaultKind.HOLD, method.upper(), route, times))

    def release(self, fault: Fault) -> None:
        """Let the requests a `hold` fault keeps, and any later ones it catches, be served."""
        fault.released.set()

    def drop(self, method: str, route: str, *, times: int = 1, after_serving: bool = False) -> Fault:
        """Cut the connection on the next `times` matching requests, before Discord serves them or,
        with `after_serving`, once it has (the request took effect; only the answer is lost).

        The client sees no HTTP status at all (aiohttp raises `ServerDisconnectedError`), which
        discord.py passes through as it is rather than as an `HTTPException`.
        """
        return self._arm(Fault(FaultKind.DROP, method.upper(), route, times, after_serving=after_serving))

    async def close_gateway(self, *, invalidate_session: bool = False, code: int = 4000) -> None:
        """Drop the bot's gateway socket. It resumes (and gets missed events replayed) unless the
        session is invalidated, in which case it is told to identify again."""
        await self._gateway.disconnect(code=code, invalidate_session=invalidate_session)

    def take(self, method: str, route: str) -> Fault | None:
        """The fault that applies to this request, counting it down; None to serve normally."""
        for fault in self.armed:
            if fault.remaining > 0 and fault.method == method and fault.route == route:
                fault.remaining -= 1
                if fault.kind is FaultKind.HOLD:
                    fault.holding += 1
                self._on_change()  # a test may be waiting for a fault to be used up
                return fault
        return None

    def _arm(self, fault: Fault) -> Fault:
        self.armed.append(fault)
        return fault


def fault_reply(fault: Fault) -> Reply:
    """Discord's response for a server-error, refusal or rate-limit fault."""
    if fault.kind is FaultKind.SERVER_ERROR:
        return Reply(fault.status, {"message": "500: Internal Server Error", "code": 0})
    if fault.kind is FaultKind.REFUSAL:
        return Reply(fault.status, {"message": "Refused by an injected fault", "code": fault.code})
    if fault.is_global:
        return too_many_requests(fault.retry_after, Scope.GLOBAL)
    bucket = {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + fault.retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{fault.retry_after:.3f}",
        "X-RateLimit-Bucket": f"emulated-{abs(hash((fault.method, fault.route))):x}",
    }
    return too_many_requests(fault.retry_after, Scope.USER, bucket)
