"""REST routes for the bot's own account, command sync and channel messages.

Interaction callbacks and webhook (follow-up) routes live in `interaction_routes.py`. Templates are the
OpenAPI spec's path templates, so each request is validated against exactly its operation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .gateway import Gateway
from .models import EPHEMERAL, Attachment, Channel, ChannelType, Message
from .multipart import Upload
from .payloads import application_json, channel_json, me_json, message_json
from .protocol import Call, DiscordError, ErrorCode, Reply, unknown
from .state import EmulatorState

Handler = Callable[[Call], Awaitable[Reply]]

VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
ATTACH_FILES = 1 << 15
GUILD_MESSAGES_INTENT = 1 << 9
DIRECT_MESSAGES_INTENT = 1 << 12


def stored_uploads(state: EmulatorState, uploads: tuple[Upload, ...], limit: int) -> list[Attachment]:
    """Uploads as attachments, refusing any file over the size `limit` as Discord does (413)."""
    for upload in uploads:
        if len(upload.data) > limit:
            raise DiscordError(413, ErrorCode.REQUEST_ENTITY_TOO_LARGE, "Request entity too large")
    return [
        Attachment(id=state.ids.next(), filename=u.filename, content_type=u.detected_type, data=u.data) for u in uploads
    ]


def require_content(body: dict[str, Any], uploads: tuple[Upload, ...]) -> None:
    """Discord refuses a new message with nothing to show."""
    if not (body.get("content") or body.get("embeds") or body.get("components") or uploads or body.get("poll")):
        raise DiscordError(400, ErrorCode.CANNOT_SEND_EMPTY_MESSAGE, "Cannot send an empty message")


def announcer(gateway: Gateway, state: EmulatorState, event: str, message: Message) -> Callable[[], Awaitable[None]]:
    """A callback that tells the bot's gateway about its own message, as Discord does for visible ones."""

    async def announce() -> None:
        channel = state.channels[message.channel_id]
        wanted = DIRECT_MESSAGES_INTENT if channel.type is ChannelType.DM else GUILD_MESSAGES_INTENT
        if message.flags & EPHEMERAL or gateway.session_for(channel.guild_id) is None:
            return
        if not (gateway.intents or 0) & wanted:
            return
        if event == "MESSAGE_DELETE":
            data: dict[str, Any] = {"id": str(message.id), "channel_id": str(channel.id)}
            if channel.guild_id is not None:
                data["guild_id"] = str(channel.guild_id)
        else:
            data = message_json(message, state)
        await gateway.dispatch(event, data, channel.guild_id)

    return announce


class RestRoutes:
    """Handlers for the bot-authenticated routes."""

    def __init__(self, state: EmulatorState, gateway: Gateway) -> None:
        self._state = state
        self._gateway = gateway

    def table(self) -> list[tuple[str, str, Handler]]:
        """(method, spec path template, handler) for every route served here."""
        return [
            ("GET", "/users/@me", self.get_me),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", "/applications/{application_id}/commands", self.get_commands),
            ("PUT", "/applications/{application_id}/commands", self.put_commands),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self.get_commands),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self.put_commands),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("POST", "/channels/{channel_id}/typing", self.trigger_typing),
            ("GET", "/channels/{channel_id}/messages", self.list_messages),
            ("POST", "/channels/{channel_id}/messages", self.create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("POST", "/users/@me/channels", self.create_dm),
        ]

    async def get_me(self, call: Call) -> Reply:
        """GET /users/@me: the bot's own user (discord.py's login check)."""
        return Reply(200, me_json(self._state.bot_user))

    async def get_application(self, call: Call) -> Reply:
        """GET /applications/@me (commands.Bot asks the /oauth2 twin for its owner)."""
        return Reply(200, application_json(self._state))

    async def get_gateway(self, call: Call) -> Reply:
        """GET /gateway."""
        return Reply(200, {"url": self._gateway.url})

    async def get_gateway_bot(self, call: Call) -> Reply:
        """GET /gateway/bot (sharded clients without a shard count ask it how many to run)."""
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        shards = self._gateway.recommended_shards
        return Reply(200, {"url": self._gateway.url, "shards": shards, "session_start_limit": limit})

    async def get_commands(self, call: Call) -> Reply:
        """GET the synced global or guild commands."""
        guild_id = self._guild_id(call)
        if guild_id is None:
            return Reply(200, self._state.global_commands)
        return Reply(200, self._state.guild_commands.get(guild_id, []))

    async def put_commands(self, call: Call) -> Reply:
        """PUT (bulk overwrite) global or guild commands; ids are kept for names synced before."""
        guild_id = self._guild_id(call)
        state = self._state
        previous = state.global_commands if guild_id is None else state.guild_commands.get(guild_id, [])
        ids = {(c["name"], c["type"]): c["id"] for c in previous}
        synced = []
        for payload in call.body or []:
            kind = payload.get("type", 1)
            command = {
                **{k: v for k, v in payload.items() if v is not None},
                "id": ids.get((payload["name"], kind)) or str(state.ids.next()),
                "application_id": str(state.application_id),
                "version": str(state.ids.next()),
                "type": kind,
                "description": payload.get("description", ""),
                # Accepted as a number or a string, returned as Discord does: a string (or null).
                "default_member_permissions": _permissions_string(payload.get("default_member_permissions")),
            }
            if guild_id is not None:
                command["guild_id"] = str(guild_id)
            synced.append(command)
        if guild_id is None:
            state.global_commands = synced
        else:
            state.guild_commands[guild_id] = synced
        return Reply(200, synced)

    async def get_channel(self, call: Call) -> Reply:
        """GET /channels/{channel_id}."""
        return Reply(200, channel_json(self._channel(call)))

    async def trigger_typing(self, call: Call) -> Reply:
        """POST /channels/{channel_id}/typing."""
        self._channel(call)
        return Reply(204)

    async def list_messages(self, call: Call) -> Reply:
        """GET /channels/{channel_id}/messages: newest first, like Discord."""
        channel = self._channel(call)
        limit = int(call.query.get("limit", "50"))
        visible = self._state.visible_messages(channel.id)[::-1][:limit]
        return Reply(200, [message_json(m, self._state) for m in visible])

    async def create_message(self, call: Call) -> Reply:
        """POST /channels/{channel_id}/messages, JSON or multipart with files."""
        channel = self._channel(call)
        body = call.body or {}
        needed = VIEW_CHANNEL | SEND_MESSAGES | (ATTACH_FILES if call.uploads else 0)
        if channel.app_permissions & needed != needed:
            raise DiscordError(403, ErrorCode.MISSING_PERMISSIONS, "Missing Permissions")
        require_content(body, call.uploads)
        guild = self._state.guild_of(channel)
        limit = guild.attachment_size_limit if guild else self._state.dm_attachment_size_limit
        uploads = stored_uploads(self._state, call.uploads, limit)
        # Ephemeral is for interaction responses only; Discord ignores it here.
        flags = int(body.get("flags") or 0) & ~EPHEMERAL
        message = self._state.create_message(channel.id, {**body, "flags": flags}, uploads)
        after = announcer(self._gateway, self._state, "MESSAGE_CREATE", message)
        return Reply(200, message_json(message, self._state), after_sent=after)

    async def get_message(self, call: Call) -> Reply:
        """GET /channels/{channel_id}/messages/{message_id}."""
        return Reply(200, message_json(self._message(call), self._state))

    async def edit_message(self, call: Call) -> Reply:
        """PATCH /channels/{channel_id}/messages/{message_id}; only the bot's own messages."""
        message = self._message(call)
        if message.author != self._state.bot_user:
            raise DiscordError(
                403, ErrorCode.CANNOT_EDIT_OTHERS_MESSAGE, "Cannot edit a message authored by another user"
            )
        guild = self._state.guild_of(self._channel(call))
        limit = guild.attachment_size_limit if guild else self._state.dm_attachment_size_limit
        self._state.edit_message(message, call.body or {}, stored_uploads(self._state, call.uploads, limit))
        after = announcer(self._gateway, self._state, "MESSAGE_UPDATE", message)
        return Reply(200, message_json(message, self._state), after_sent=after)

    async def delete_message(self, call: Call) -> Reply:
        """DELETE /channels/{channel_id}/messages/{message_id}."""
        message = self._message(call)
        self._state.delete_message(message)
        return Reply(204, after_sent=announcer(self._gateway, self._state, "MESSAGE_DELETE", message))

    async def create_dm(self, call: Call) -> Reply:
        """POST /users/@me/channels: the DM channel with a user (made on first use)."""
        user = self._state.users.get(int((call.body or {}).get("recipient_id") or 0))
        if user is None:
            raise DiscordError(400, ErrorCode.INVALID_FORM_BODY, "Invalid Form Body")
        existing = next((c for c in self._state.channels.values() if c.recipient == user), None)
        return Reply(200, channel_json(existing or self._state.add_dm_channel(user)))

    def _guild_id(self, call: Call) -> int | None:
        if call.params["application_id"] != str(self._state.application_id):
            raise unknown(ErrorCode.UNKNOWN_APPLICATION, "Application")
        if "guild_id" not in call.params:
            return None
        guild_id = int(call.params["guild_id"])
        if guild_id not in self._state.guilds:
            raise unknown(ErrorCode.UNKNOWN_GUILD, "Guild")
        return guild_id

    def _channel(self, call: Call) -> Channel:
        channel = self._state.channels.get(int(call.params["channel_id"]))
        if channel is None:
            raise unknown(ErrorCode.UNKNOWN_CHANNEL, "Channel")
        return channel

    def _message(self, call: Call) -> Message:
        channel = self._channel(call)
        message = self._state.messages.get(int(call.params["message_id"]))
        if message is None or message.deleted or message.channel_id != channel.id or message.ephemeral:
            raise unknown(ErrorCode.UNKNOWN_MESSAGE, "Message")
        return message


def _permissions_string(value: object) -> str | None:
    return None if value is None else str(value)
