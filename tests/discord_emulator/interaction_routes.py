"""REST routes that answer interactions: the callback, follow-ups, and the interaction webhook's messages.

An autocomplete interaction takes only an autocomplete result (its choices), and only it takes one.

Discord's rules are enforced here: one callback per interaction, due within the response deadline (3 s
unless the test relaxed it; late ones get 10062 and are recorded as violations); a token lives 15
minutes (afterwards webhook calls get 401 50027); uploads over the interaction's
`attachment_size_limit` get 413 40005.
"""

from __future__ import annotations

from typing import Any

from .gateway import Gateway
from .models import (
    EPHEMERAL,
    LOADING,
    CallbackType,
    Interaction,
    InteractionCallback,
    InteractionType,
    Message,
    Violation,
    ViolationKind,
)
from .payloads import message_json
from .protocol import Call, DiscordError, ErrorCode, Reply, unknown
from .rest import Handler, announcer, require_content, stored_uploads
from .state import EmulatorState

_CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
_WEBHOOK = "/webhooks/{webhook_id}/{webhook_token}"


class InteractionRoutes:
    """Handlers for routes authenticated by an interaction token instead of the bot token."""

    def __init__(self, state: EmulatorState, gateway: Gateway) -> None:
        self._state = state
        self._gateway = gateway

    def table(self) -> list[tuple[str, str, Handler]]:
        """(method, spec path template, handler) for every route served here."""
        return [
            ("POST", _CALLBACK, self.callback),
            ("POST", _WEBHOOK, self.follow_up),
            ("GET", _WEBHOOK + "/messages/@original", self.get_message),
            ("PATCH", _WEBHOOK + "/messages/@original", self.edit_message),
            ("DELETE", _WEBHOOK + "/messages/@original", self.delete_message),
            ("GET", _WEBHOOK + "/messages/{message_id}", self.get_message),
            ("PATCH", _WEBHOOK + "/messages/{message_id}", self.edit_message),
            ("DELETE", _WEBHOOK + "/messages/{message_id}", self.delete_message),
        ]

    async def callback(self, call: Call) -> Reply:
        """POST the interaction response (message, defer, update, modal)."""
        state = self._state
        interaction = state.interactions.get(int(call.params["interaction_id"]))
        now = call.received_at
        if (
            interaction is None
            or interaction.token != call.params["interaction_token"]
            or now >= interaction.expires_at
        ):
            raise unknown(ErrorCode.UNKNOWN_INTERACTION, "interaction")
        body = call.body or {}
        kind = int(body.get("type", 0))
        if interaction.responded:
            if call.path in state.unanswered:  # one retry of a response whose answer was lost is no fault
                state.unanswered.discard(call.path)
            else:
                self._rule(call, f"interaction {interaction.id} was acknowledged twice")
            raise DiscordError(400, ErrorCode.ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged.")
        if interaction.respond_by is not None and now > interaction.respond_by:
            late = now - interaction.created_at
            self._rule(call, f"interaction {interaction.id} answered after {late:.2f}s, past the deadline")
            interaction.callbacks.append(InteractionCallback(kind, body.get("data"), now, 404))
            raise unknown(ErrorCode.UNKNOWN_INTERACTION, "interaction")
        data: dict[str, Any] = body.get("data") or {}
        message = self._respond(interaction, kind, data, call)
        interaction.callbacks.append(
            InteractionCallback(kind, body.get("data"), now, 200 if call.flag("with_response") else 204)
        )
        if not call.flag("with_response"):
            return Reply(204)
        return Reply(200, self._callback_body(interaction, kind, message))

    async def follow_up(self, call: Call) -> Reply:
        """POST a follow-up message; right after a defer it fills in the "thinking" message instead."""
        interaction = self._interaction(call)
        if not interaction.responded:
            raise unknown(ErrorCode.UNKNOWN_WEBHOOK, "Webhook")
        body = call.body or {}
        limit = self._limit(interaction)
        original = interaction.original
        if original is not None and original.loading and not original.deleted:
            self._state.edit_message(original, body, stored_uploads(self._state, call.uploads, limit))
            message, event = original, "MESSAGE_UPDATE"
        else:
            require_content(body, call.uploads)
            uploads = stored_uploads(self._state, call.uploads, limit)
            message = self._state.create_message(
                interaction.channel.id,
                body,
                uploads,
                interaction_id=interaction.id,
                webhook_id=self._state.application_id,
            )
            interaction.followups.append(message)
            event = "MESSAGE_CREATE"
        after = announcer(self._gateway, self._state, event, message)
        if not call.flag("wait"):
            return Reply(204, after_sent=after)
        return Reply(200, message_json(message, self._state), after_sent=after)

    async def get_message(self, call: Call) -> Reply:
        """GET @original or a follow-up."""
        return Reply(200, message_json(self._webhook_message(call), self._state))

    async def edit_message(self, call: Call) -> Reply:
        """PATCH @original or a follow-up (JSON or multipart; `attachments` keeps or drops old files)."""
        message = self._webhook_message(call)
        interaction = self._interaction(call)
        uploads = stored_uploads(self._state, call.uploads, self._limit(interaction))
        self._state.edit_message(message, call.body or {}, uploads)
        after = announcer(self._gateway, self._state, "MESSAGE_UPDATE", message)
        return Reply(200, message_json(message, self._state), after_sent=after)

    async def delete_message(self, call: Call) -> Reply:
        """DELETE @original or a follow-up."""
        message = self._webhook_message(call)
        self._state.delete_message(message)
        return Reply(204, after_sent=announcer(self._gateway, self._state, "MESSAGE_DELETE", message))

    def _respond(self, interaction: Interaction, kind: int, data: dict[str, Any], call: Call) -> Message | None:
        state = self._state
        on_message = interaction.type is not InteractionType.APPLICATION_COMMAND and interaction.message is not None
        autocomplete = interaction.type is InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE
        if autocomplete or kind == CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            # An autocomplete is answered with its choices and nothing else, and nothing else with choices.
            if not (autocomplete and kind == CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT):
                raise DiscordError(
                    400,
                    ErrorCode.INVALID_FORM_BODY,
                    f"Interaction callback type {kind} is not valid for this interaction",
                )
        elif kind == CallbackType.CHANNEL_MESSAGE:
            require_content(data, call.uploads)
            uploads = stored_uploads(state, call.uploads, self._limit(interaction))
            interaction.original = self._new_message(interaction, data, uploads)
        elif kind == CallbackType.DEFERRED_CHANNEL_MESSAGE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            interaction.original = self._new_message(interaction, {"flags": flags}, [])
        elif kind in (CallbackType.DEFERRED_UPDATE_MESSAGE, CallbackType.UPDATE_MESSAGE) and on_message:
            assert interaction.message is not None
            if kind == CallbackType.UPDATE_MESSAGE:
                uploads = stored_uploads(state, call.uploads, self._limit(interaction))
                state.edit_message(interaction.message, data, uploads)
            interaction.original = interaction.message
        elif kind == CallbackType.MODAL and interaction.type is not InteractionType.MODAL_SUBMIT:
            interaction.modal = data
        else:
            raise DiscordError(
                400,
                ErrorCode.INVALID_FORM_BODY,
                f"Interaction callback type {kind} is not valid for this interaction",
            )
        return interaction.original

    def _new_message(self, interaction: Interaction, data: dict[str, Any], uploads: list[Any]) -> Message:
        return self._state.create_message(
            interaction.channel.id,
            data,
            uploads,
            interaction_id=interaction.id,
            webhook_id=self._state.application_id,
        )

    def _callback_body(self, interaction: Interaction, kind: int, message: Message | None) -> dict[str, Any]:
        summary: dict[str, Any] = {"id": str(interaction.id), "type": int(interaction.type)}
        body: dict[str, Any] = {"interaction": summary}
        if kind in (
            CallbackType.CHANNEL_MESSAGE,
            CallbackType.DEFERRED_CHANNEL_MESSAGE,
            CallbackType.UPDATE_MESSAGE,
        ):
            assert message is not None
            summary |= {
                "response_message_id": str(message.id),
                "response_message_loading": message.loading,
                "response_message_ephemeral": message.ephemeral,
            }
        if kind in (CallbackType.CHANNEL_MESSAGE, CallbackType.UPDATE_MESSAGE):
            body["resource"] = {"type": kind, "message": message_json(message, self._state)}  # type: ignore[arg-type]
        return body

    def _interaction(self, call: Call) -> Interaction:
        interaction = self._state.interaction_by_token(call.params["webhook_token"])
        if interaction is None or call.params["webhook_id"] != str(self._state.application_id):
            raise unknown(ErrorCode.UNKNOWN_WEBHOOK, "Webhook")
        if self._state.clock.now() >= interaction.expires_at:
            raise DiscordError(401, ErrorCode.INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        return interaction

    def _webhook_message(self, call: Call) -> Message:
        interaction = self._interaction(call)
        wanted = call.params.get("message_id")
        if wanted is None:
            message = interaction.original
        else:
            candidates = [interaction.original, *interaction.followups]
            message = next((m for m in candidates if m is not None and str(m.id) == wanted), None)
        if message is None or message.deleted:
            raise unknown(ErrorCode.UNKNOWN_MESSAGE, "Message")
        return message

    def _limit(self, interaction: Interaction) -> int:
        guild = self._state.guild_of(interaction.channel)
        return guild.attachment_size_limit if guild else self._state.dm_attachment_size_limit

    def _rule(self, call: Call, detail: str) -> None:
        self._state.violations.append(Violation(ViolationKind.RULE, call.method, call.path, detail))
