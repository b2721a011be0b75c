"""Discord's limits on what one message may hold, where its OpenAPI description says less.

- `content`: 2,000 characters from a bot. The spec allows 4,000 on channel messages (the limit of
  Nitro users); on interaction responses and webhook messages it says 2,000 itself.
- embeds: 6,000 characters in all: every title, description, field name and value, footer text and
  author name, summed over all embeds of the message.

The per-field limits Discord documents (title 256, description 4,096, 25 fields, field name 256, field
value 1,024, footer text 2,048, author name 256) are in the spec, so schema validation refuses those
before these checks run. Either way the bot gets Discord's 400 Invalid Form Body (50035) with `errors`
naming the field, and the emulator records a violation.
"""

from __future__ import annotations

from typing import Any

from .openapi import SchemaProblem

CONTENT_LIMIT = 2000
EMBEDS_TOTAL_LIMIT = 6000

_WEBHOOK = "/webhooks/{webhook_id}/{webhook_token}"
# Requests that carry a message, and where in the body it is.
_MESSAGE_AT: dict[tuple[str, str], tuple[str, ...]] = {
    ("POST", "/channels/{channel_id}/messages"): (),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"): (),
    ("POST", "/interactions/{interaction_id}/{interaction_token}/callback"): ("data",),
    ("POST", _WEBHOOK): (),
    ("PATCH", _WEBHOOK + "/messages/@original"): (),
    ("PATCH", _WEBHOOK + "/messages/{message_id}"): (),
}


def oversized(method: str, route: str, body: Any) -> list[SchemaProblem]:
    """How the message in a request body (already valid against the spec) breaks these limits."""
    at = _MESSAGE_AT.get((method, route))
    if at is None:
        return []
    message = body
    for key in at:
        message = message.get(key) if isinstance(message, dict) else None
    if not isinstance(message, dict):
        return []
    problems = []
    content = message.get("content") or ""
    if len(content) > CONTENT_LIMIT:
        problems.append(_problem((*at, "content"), f"Must be {CONTENT_LIMIT} or fewer in length."))
    total = sum(_embed_size(embed) for embed in message.get("embeds") or [])
    if total > EMBEDS_TOTAL_LIMIT:
        problems.append(_problem((*at, "embeds"), f"Embed size exceeds maximum size of {EMBEDS_TOTAL_LIMIT}"))
    return problems


def _embed_size(embed: dict[str, Any]) -> int:
    texts = [
        embed.get("title"),
        embed.get("description"),
        (embed.get("footer") or {}).get("text"),
        (embed.get("author") or {}).get("name"),
    ]
    for field in embed.get("fields") or []:
        texts += [field.get("name"), field.get("value")]
    return sum(len(text or "") for text in texts)


def _problem(location: tuple[str, ...], message: str) -> SchemaProblem:
    return SchemaProblem("$." + ".".join(location), message, location)
