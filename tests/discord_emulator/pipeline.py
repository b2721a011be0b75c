"""How every REST request is served: parse, inject faults, authenticate, count against the rate limits,
validate (the spec, then Discord's message limits and command naming rules), handle, validate the reply, send, record.

Replies are rendered with Content-Type exactly `application/json` (discord.py compares the header
verbatim; aiohttp's json_response appends a charset). Emulator bugs are answered 400, never 5xx,
because discord.py retries 5xx with back-off and a test would hang instead of failing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .command_names import misnamed
from .faults import FaultKind, Faults, fault_reply
from .message_limits import oversized
from .models import RecordedFile, RecordedRequest, Violation, ViolationKind
from .multipart import BadBody, RequestBody, dangling_file_references, read_body
from .openapi import OpenAPISpec, SchemaProblem
from .protocol import Call, DiscordError, ErrorCode, Reply
from .ratelimits import RateLimits
from .rest import Handler
from .state import EmulatorState

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
# Routes addressed by an interaction token; everything else needs `Authorization: Bot <token>` and is
# bound by the global rate limit.
_TOKEN_ROUTES = ("/interactions/", "/webhooks/")


class Pipeline:
    """Turns route handlers into aiohttp handlers that do the shared work around them."""

    def __init__(self, state: EmulatorState, spec: OpenAPISpec, faults: Faults, rate_limits: RateLimits) -> None:
        self._state = state
        self._spec = spec
        self._locales = spec.locales()
        self._faults = faults
        self._rate_limits = rate_limits

    def endpoint(self, route: str, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """The aiohttp handler for `handler`, served at the spec path template `route`."""

        async def serve(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, route, handler)

        return serve

    async def unknown_route(self, request: web.Request) -> web.StreamResponse:
        """Anything not emulated: Discord's 404 (and a record, so a test can see what was missing)."""
        await request.read()
        self._violation(ViolationKind.RULE, request, "route not emulated (real Discord may serve it)")
        reply = Reply(404, {"message": "404: Not Found", "code": 0})
        return await self._send(request, None, RequestBody(json=None), reply)

    async def _serve(self, request: web.Request, route: str, handler: Handler) -> web.StreamResponse:
        received_at = self._state.clock.now()
        try:
            body = await read_body(request)
        except BadBody as exc:
            reply = DiscordError(400, ErrorCode.INVALID_JSON, str(exc)).reply()
            return await self._send(request, route, RequestBody(json=None), reply)
        fault = self._faults.take(request.method, route)
        if fault is not None and fault.kind is FaultKind.DELAY:
            await asyncio.sleep(fault.delay)
        elif fault is not None and fault.kind is FaultKind.HOLD:
            await fault.released.wait()
        elif fault is not None and fault.kind is FaultKind.DROP:
            return await self._drop(request, route, body, handler, served=fault.after_serving)
        elif fault is not None:
            if fault.after_serving:
                await self._in_flight_handle(request, route, body, handler)
            return await self._send(request, route, body, fault_reply(fault))
        self._state.in_flight += 1
        try:
            reply = await self._handle(request, route, body, handler, received_at)
            return await self._send(request, route, body, reply)
        finally:
            self._state.in_flight -= 1
            self._state.notify()

    async def _in_flight_handle(self, request: web.Request, route: str, body: RequestBody, handler: Handler) -> Reply:
        """Serve a request whose real answer a fault replaces: it takes effect, and what follows it goes out."""
        self._state.in_flight += 1
        try:
            reply = await self._handle(request, route, body, handler, self._state.clock.now())
            self._state.unanswered.add(request.path.removeprefix(API_PREFIX))
            if reply.after_sent is not None:
                await reply.after_sent()
            return reply
        finally:
            self._state.in_flight -= 1
            self._state.notify()

    async def _drop(
        self, request: web.Request, route: str, body: RequestBody, handler: Handler, *, served: bool
    ) -> web.StreamResponse:
        reply = await self._in_flight_handle(request, route, body, handler) if served else None
        if request.transport is not None:
            request.transport.close()
        if reply is not None:  # Discord did it: the request counts as served
            self._record(request, route, body, reply)
        return web.Response(status=500)  # never reaches the client: the socket is already gone

    async def _handle(
        self, request: web.Request, route: str, body: RequestBody, handler: Handler, received_at: float
    ) -> Reply:
        by_token = route.startswith(_TOKEN_ROUTES)
        if not by_token and request.headers.get("Authorization") != f"Bot {self._state.bot_token}":
            return Reply(401, {"message": "401: Unauthorized", "code": 0})
        admission = self._rate_limits.admit(request.method, route, request.match_info, bound_by_global=not by_token)
        if admission.refusal is not None:
            return admission.refusal
        reply = await self._answer(request, route, body, handler, received_at)
        return dataclasses.replace(reply, headers={**admission.headers, **reply.headers})

    async def _answer(
        self, request: web.Request, route: str, body: RequestBody, handler: Handler, received_at: float
    ) -> Reply:
        if self._spec.has_operation(request.method, route):
            problems = self._spec.request_problems(request.method, route, body.json)
            if problems:
                return self._invalid_form_body(request, ViolationKind.REQUEST_SCHEMA, problems)
        problems = oversized(request.method, route, body.json) + misnamed(
            request.method, route, body.json, self._locales
        )
        if problems:
            return self._invalid_form_body(request, ViolationKind.RULE, problems)
        dangling = dangling_file_references(body)
        for detail in dangling:
            self._violation(ViolationKind.REQUEST_SCHEMA, request, detail)
        if dangling:
            return DiscordError(400, ErrorCode.INVALID_FORM_BODY, "Invalid Form Body").reply()
        call = Call(
            method=request.method,
            path=request.path.removeprefix(API_PREFIX),
            route=route,
            params=dict(request.match_info),
            query=dict(request.query),
            body=body.json,
            uploads=body.uploads,
            received_at=received_at,
        )
        try:
            return await handler(call)
        except DiscordError as exc:
            return exc.reply()
        except Exception as exc:
            log.exception("emulator bug serving %s %s", request.method, request.path)
            self._violation(ViolationKind.RULE, request, f"emulator bug: {exc!r}")
            return Reply(400, {"message": f"emulator bug: {exc!r}", "code": 0})

    async def _send(
        self, request: web.Request, route: str | None, body: RequestBody, reply: Reply
    ) -> web.StreamResponse:
        # The spec documents no 5xx; the emulator only sends one when a test injects it.
        if route is not None and reply.status < 500 and self._spec.has_operation(request.method, route):
            for problem in self._spec.response_problems(request.method, route, reply.status, reply.body):
                detail = f"{reply.status} {problem.path}: {problem.message}"
                self._violation(ViolationKind.RESPONSE_SCHEMA, request, detail)
        response = web.Response(status=reply.status, headers=reply.headers)
        if reply.body is not None:
            response.body = json.dumps(reply.body).encode()
            response.headers["Content-Type"] = "application/json"
        await response.prepare(request)
        await response.write_eof()
        self._record(request, route, body, reply)
        if reply.after_sent is not None:
            await reply.after_sent()
        return response

    def _record(self, request: web.Request, route: str | None, body: RequestBody, reply: Reply) -> None:
        self._state.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path.removeprefix(API_PREFIX),
                route=route,
                query=dict(request.query),
                status=reply.status,
                body=body.json,
                files=tuple(RecordedFile(u.field, u.filename, u.content_type, len(u.data)) for u in body.uploads),
                at=self._state.clock.now(),
            )
        )

    def _invalid_form_body(self, request: web.Request, kind: ViolationKind, problems: list[SchemaProblem]) -> Reply:
        for problem in problems:
            self._violation(kind, request, f"{problem.path}: {problem.message}")
        return DiscordError(400, ErrorCode.INVALID_FORM_BODY, "Invalid Form Body", _form_errors(problems)).reply()

    def _violation(self, kind: ViolationKind, request: web.Request, detail: str) -> None:
        self._state.violations.append(Violation(kind, request.method, request.path.removeprefix(API_PREFIX), detail))


def _form_errors(problems: list[SchemaProblem]) -> dict[str, Any]:
    """Discord's nested `errors` object: one `_errors` list at each offending field."""
    errors: dict[str, Any] = {}
    for problem in problems:
        node = errors
        for key in problem.location:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": int(ErrorCode.INVALID_FORM_BODY), "message": problem.message})
    return errors
