"""Checks request and response bodies against Discord's OpenAPI 3.1 description.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so the whole document is registered once and each
operation's schema is validated through a `$ref` into it; the spec's own `#/components/...` references
then resolve against that document. Validators are built lazily and cached per JSON pointer, because
building one walks the schema and the suite makes thousands of requests.

Each schema has two validators. `jsonschema_rs` (Rust) only says whether a body is valid, in about a
microsecond; the pure-Python `jsonschema` says what is wrong (path, message, the deepest cause of a
failed union), but walking Discord's large unions in Python cost ~40% of the event loop in the load
test. So a body goes to Python only when Rust refuses it, and the problems reported are Python's, as
before. Where the two disagree Rust is the stricter (it refuses NaN, which Python's `json` reads as a
number), and then Python's verdict stands; `fast=False` is the Python path alone, which
`tests/emulator/test_fast_validation.py` holds the fast path to.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

DEFAULT_SPEC_PATH = Path(__file__).with_name("openapi.json")
_SPEC_URI = "urn:discord:openapi"
_REQUEST_SPEC_URI = "urn:discord:openapi:requests"


@dataclass(frozen=True)
class SchemaProblem:
    """One way a body failed its schema: where in the body, and what the schema wanted."""

    path: str
    message: str
    location: tuple[str | int, ...] = ()


def _pointer_escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class _Schema:
    """One operation's body schema: a fast yes/no, and the full explanation of a no."""

    def __init__(self, uri: str, registry: Registry[Any], fast_registry: jsonschema_rs.Registry | None) -> None:
        self._full = Draft202012Validator({"$ref": uri}, registry=registry)
        self._fast: jsonschema_rs.Validator | None = None
        if fast_registry is not None:
            # `jsonschema` checks no `format` unless given a format checker, so neither may Rust.
            self._fast = jsonschema_rs.Draft202012Validator(
                {"$ref": _percent_encoded(uri)}, registry=fast_registry, validate_formats=False
            )

    def problems(self, body: Any) -> list[SchemaProblem]:
        """Every way `body` fails the schema; none for a valid body."""
        if self._fast is not None and self._fast.is_valid(body):
            return []
        problems = []
        for error in self._full.iter_errors(body):
            cause = _deepest(error)
            problems.append(SchemaProblem(cause.json_path, _short(cause.message), tuple(cause.absolute_path)))
        return problems


def _percent_encoded(uri: str) -> str:
    """`uri` as an RFC 3986 URI, which `jsonschema_rs` insists on: the `{`/`}` of path templates in
    its JSON-pointer fragment become `%7B`/`%7D`."""
    base, _, fragment = uri.partition("#")
    return f"{base}#{quote(fragment, safe='/@')}"


class OpenAPISpec:
    """Discord's API description: operations by path template, and body validation (`fast=False`: by
    the pure-Python validator alone)."""

    def __init__(self, path: Path | None = None, *, fast: bool = True) -> None:
        with (path or DEFAULT_SPEC_PATH).open(encoding="utf-8") as handle:
            self._document: dict[str, Any] = json.load(handle)
        # Discord accepts snowflakes in request bodies as JSON integers too (discord.py sends
        # `attachments[].id` that way) though the spec only allows strings; responses stay strict.
        lenient = copy.deepcopy(self._document)
        strict_snowflake = lenient["components"]["schemas"]["SnowflakeType"]
        lenient["components"]["schemas"]["SnowflakeType"] = {
            "anyOf": [strict_snowflake, {"type": "integer", "minimum": 0}]
        }
        documents = [(_SPEC_URI, self._document), (_REQUEST_SPEC_URI, lenient)]
        self._registry: Registry[Any] = Registry().with_resources(
            (uri, DRAFT202012.create_resource(document)) for uri, document in documents
        )
        self._fast_registry = jsonschema_rs.Registry(documents, draft=jsonschema_rs.Draft202012) if fast else None
        self._schemas: dict[str, _Schema] = {}

    def has_operation(self, method: str, template: str) -> bool:
        """Whether the spec describes `method` on `template` (a path like `/channels/{channel_id}`)."""
        return method.lower() in self._document["paths"].get(template, {})

    def request_problems(self, method: str, template: str, body: Any) -> list[SchemaProblem]:
        """Problems with a JSON request body (or a multipart `payload_json`) for this operation."""
        operation = self._document["paths"][template][method.lower()]
        request_body = operation.get("requestBody")
        if request_body is None or body is None:
            if body is None and request_body is not None and request_body.get("required"):
                return [SchemaProblem("", f"{method} {template} needs a JSON body")]
            if body is not None:
                return [SchemaProblem("", f"{method} {template} takes no body")]
            return []
        if "application/json" not in request_body["content"]:
            return [SchemaProblem("", f"{method} {template} takes no JSON body")]
        pointer = "/".join(
            [
                "#/paths",
                _pointer_escape(template),
                method.lower(),
                "requestBody/content/application~1json/schema",
            ]
        )
        return self._problems(_REQUEST_SPEC_URI + pointer, body)

    def response_problems(self, method: str, template: str, status: int, body: Any) -> list[SchemaProblem]:
        """Problems with a response body the emulator is about to send for this operation."""
        responses = self._document["paths"][template][method.lower()]["responses"]
        key = str(status) if str(status) in responses else f"{str(status)[0]}XX"
        if key not in responses:
            return [SchemaProblem("", f"status {status} is not a documented response of {method} {template}")]
        response = responses[key]
        pointer = "/".join(["#/paths", _pointer_escape(template), method.lower(), "responses", key])
        if "$ref" in response:
            pointer = response["$ref"]
            response = self._resolve(pointer)
        if "application/json" not in response.get("content", {}):
            if body is None:
                return []
            return [SchemaProblem("", f"status {status} of {method} {template} has no body in the spec")]
        if body is None:
            return [SchemaProblem("", f"status {status} of {method} {template} needs a JSON body")]
        return self._problems(_SPEC_URI + pointer + "/content/application~1json/schema", body)

    def locales(self) -> frozenset[str]:
        """The locales Discord knows (`AvailableLocalesEnum`): the keys a localization dict may have."""
        known = self._resolve("#/components/schemas/AvailableLocalesEnum")["oneOf"]
        return frozenset(choice["const"] for choice in known)

    def schema_problems(self, name: str, body: Any) -> list[SchemaProblem]:
        """Problems with `body` as the component schema `name` (for shapes sent over the gateway)."""
        return self._problems(f"{_SPEC_URI}#/components/schemas/{name}", body)

    def _resolve(self, pointer: str) -> dict[str, Any]:
        node: Any = self._document
        for token in pointer.removeprefix("#/").split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
        return dict(node)

    def _problems(self, uri: str, body: Any) -> list[SchemaProblem]:
        schema = self._schemas.get(uri)
        if schema is None:
            schema = _Schema(uri, self._registry, self._fast_registry)
            self._schemas[uri] = schema
        return schema.problems(body)


def _deepest(error: ValidationError) -> ValidationError:
    """The most specific cause: a failed union only says "not valid under any", and the branch
    that got furthest into the body is the one that was meant."""
    if not error.context:
        return error
    return max((_deepest(cause) for cause in error.context), key=lambda cause: len(cause.absolute_path))


def _short(message: str) -> str:
    # Messages quote the offending value, which may be a whole message body.
    return message if len(message) <= 300 else message[:300] + "…"


@cache
def load_spec(path: Path | None = None) -> OpenAPISpec:
    """The parsed spec, shared by every emulator in the process (parsing 1 MB of JSON per test adds up)."""
    return OpenAPISpec(path)
