"""Reading request bodies the way Discord does: JSON, or multipart with `payload_json` and `files[n]`."""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str | None
    data: bytes

    @property
    def detected_type(self) -> str | None:
        """The content type Discord stores: guessed from the name (clients send octet-stream)."""
        return mimetypes.guess_type(self.filename)[0] or self.content_type


@dataclass(frozen=True)
class RequestBody:
    """A parsed request body: the JSON document (None when empty) and any uploaded files."""

    json: Any
    uploads: tuple[Upload, ...] = ()
    multipart: bool = False


class BadBody(ValueError):
    """The body is not valid JSON, or a multipart part is malformed."""


async def read_body(request: web.Request) -> RequestBody:
    """Parse the body of `request` according to its Content-Type."""
    if request.content_type.startswith("multipart/"):
        return await _read_multipart(request)
    raw = await request.read()
    if not raw:
        return RequestBody(json=None)
    try:
        return RequestBody(json=json.loads(raw))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadBody(f"invalid JSON body: {exc}") from exc


async def _read_multipart(request: web.Request) -> RequestBody:
    reader = await request.multipart()
    document: Any = None
    fields: dict[str, str] = {}
    uploads: list[Upload] = []
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            raise BadBody("nested multipart bodies are not accepted")
        name = part.name or ""
        data = await part.read()
        if part.filename is not None:
            content_type = part.headers.get("Content-Type")
            uploads.append(Upload(field=name, filename=part.filename, content_type=content_type, data=bytes(data)))
        elif name == "payload_json":
            try:
                document = json.loads(data)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise BadBody(f"invalid payload_json: {exc}") from exc
        else:
            fields[name] = data.decode()
    if document is None and fields:
        document = fields
    return RequestBody(json=document, uploads=tuple(uploads), multipart=True)


# Snowflakes carry a timestamp in their high bits, so an id this small can only be an upload index.
_LARGEST_UPLOAD_INDEX = 1 << 22


def dangling_file_references(body: RequestBody) -> list[str]:
    """`attachments[].id` entries that point at an upload index with no `files[n]` part."""
    document = body.json
    if not isinstance(document, dict):
        return []
    listed = document.get("attachments")
    if not isinstance(listed, list):
        data = document.get("data")
        listed = data.get("attachments") if isinstance(data, dict) else None
    uploaded = {upload.field for upload in body.uploads}
    problems = []
    for position, entry in enumerate(listed or []):
        ref = entry.get("id") if isinstance(entry, dict) else None
        index = int(ref) if isinstance(ref, int | str) and str(ref).isdigit() else None
        if index is not None and index < _LARGEST_UPLOAD_INDEX and f"files[{index}]" not in uploaded:
            problems.append(f"attachments[{position}].id {index} refers to no uploaded files[{index}]")
    return problems
