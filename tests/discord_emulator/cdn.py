"""Files users attach to slash commands, and the CDN route that serves them until their link expires.

Discord hands a bot an attachment option as `data.resolved.attachments[id]`, an `AttachmentResponse`
whose `url` is a signed CDN link that stops working after a while (`ex=` is its expiry, in hex seconds)
or once the file is deleted; the CDN then answers 404. The emulator serves uploads the same way at
`/cdn/attachments/{channel_id}/{attachment_id}/{filename}` on its own port.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .models import Attachment, EmulatorClock
from .openapi import OpenAPISpec

CDN_PREFIX = "/cdn/attachments"
UPLOAD_LINK_LIFETIME = 24 * 3600.0
"""How long Discord's signed attachment links stay valid."""


@dataclass(frozen=True)
class Upload:
    """A file a user attached, where it was posted, and until when its link works."""

    attachment: Attachment
    channel_id: int
    expires_at: float


@dataclass
class Cdn:
    """The uploads and the route serving them; `base_url` is set once the server listens.

    `gone` holds attachments whose link no longer works (expired or deleted), even ones not posted yet,
    so a test can make the link dead before the bot could possibly fetch it.
    """

    clock: EmulatorClock
    base_url: str = ""
    uploads: dict[int, Upload] = field(default_factory=dict)
    gone: set[int] = field(default_factory=set)

    def add(self, attachment: Attachment, channel_id: int) -> Upload:
        """Make `attachment` downloadable for a link lifetime from now."""
        upload = Upload(attachment, channel_id, self.clock.now() + UPLOAD_LINK_LIFETIME)
        self.uploads[attachment.id] = upload
        return upload

    def resolved_json(self, upload: Upload, spec: OpenAPISpec) -> dict[str, Any]:
        """The `AttachmentResponse` a bot receives for `upload`, checked against the spec."""
        attachment = upload.attachment
        url = (
            f"{self.base_url}{CDN_PREFIX}/{upload.channel_id}/{attachment.id}/{attachment.filename}"
            f"?ex={int(upload.expires_at):x}&is={int(upload.expires_at - UPLOAD_LINK_LIFETIME):x}&hm=0"
        )
        data: dict[str, Any] = {
            "id": str(attachment.id),
            "filename": attachment.filename,
            "size": attachment.size,
            "url": url,
            "proxy_url": url,
            "ephemeral": True,
        }
        if attachment.content_type is not None:
            data["content_type"] = attachment.content_type
        problems = spec.schema_problems("AttachmentResponse", data)
        if problems:
            raise AssertionError(f"resolved attachment breaks the spec: {problems}")
        return data

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """GET of an upload's link: its bytes, or 404 once it expired or was deleted."""
        upload = self.uploads.get(int(request.match_info["attachment_id"]))
        if upload is None or upload.attachment.id in self.gone or self.clock.now() >= upload.expires_at:
            return web.Response(status=404, text="This content is no longer available.")
        attachment = upload.attachment
        return web.Response(body=attachment.data, content_type=attachment.content_type or "application/octet-stream")
