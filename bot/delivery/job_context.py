"""Where a job came from and where its result goes: stored with the job so it survives a restart."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Self

from bot.i18n import Text

# Discord lets an interaction token act for 15 minutes; stop relying on it a little earlier so an
# upload that starts just before the deadline does not fail half-way.
TOKEN_SAFE_LIFETIME_S = 14 * 60


@dataclass(frozen=True)
class JobContext:
    """The Discord side of a job, opaque to the queue (kept in `JobSpec.context`)."""

    user_id: int
    channel_id: int
    guild_id: int | None
    application_id: int
    interaction_token: str
    interaction_created_at: float
    attachment_size_limit: int
    status_message_id: int | None = None
    adjustments: tuple[Text | str, ...] = ()
    """What was changed to fit the model (e.g. a frame count rounded to its rule), shown with the job: kept as
    its text and values, said in each reader's language (a job saved before that keeps its English words)."""
    locale: str | None = None
    """The member's Discord locale: their status message is in it."""
    public_locale: str | None = None
    """The language of the public result post: the server's rule, else Discord's server language."""

    def token_usable(self, now: float) -> bool:
        """True while the interaction token can still be trusted to edit and follow up."""
        return now - self.interaction_created_at < TOKEN_SAFE_LIFETIME_S

    def with_status_message(self, message_id: int) -> JobContext:
        """The same context, now knowing which message shows the job's status."""
        return replace(self, status_message_id=message_id)

    def dumps(self) -> str:
        """Serialise for `JobSpec.context`."""
        fields = asdict(self)
        fields["adjustments"] = [
            {"text": each.text, "params": each.params} if isinstance(each, Text) else each for each in self.adjustments
        ]
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> Self:
        """Parse what `dumps` wrote."""
        fields = json.loads(text)
        fields["adjustments"] = tuple(_adjustment(each) for each in fields.get("adjustments", ()))
        return cls(**fields)


def _adjustment(stored: Any) -> Text | str:
    """An adjustment as stored: a text and its values, or (saved by an older version) English words."""
    if isinstance(stored, dict):
        return Text(str(stored["text"]), **dict(stored["params"]))
    return str(stored)
