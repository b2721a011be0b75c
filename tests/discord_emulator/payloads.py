"""Discord's JSON shapes for the emulator's records, as the REST API and the gateway send them.

REST shapes are checked against the OpenAPI spec on the way out; gateway shapes (which the spec does
not cover) carry every key discord.py 2.7.1 reads with `data[...]`, since a missing one raises inside
its gateway parser and kills the connection.
"""

from __future__ import annotations

from typing import Any

from .models import (
    Attachment,
    Channel,
    ChannelType,
    Guild,
    Interaction,
    InteractionType,
    Member,
    Message,
    Role,
    User,
)
from .state import EmulatorState

CDN = "https://cdn.discordapp.com"


def user_json(user: User) -> dict[str, Any]:
    """A UserResponse."""
    data: dict[str, Any] = {
        "id": str(user.id),
        "username": user.username,
        "avatar": None,
        "discriminator": "0",
        "public_flags": 0,
        "flags": 0,
        "global_name": None if user.bot else user.username.title(),
        "primary_guild": None,
    }
    if user.bot:
        data["bot"] = True
    return data


def me_json(user: User) -> dict[str, Any]:
    """The UserPIIResponse of `GET /users/@me`."""
    return {**user_json(user), "mfa_enabled": False, "locale": "en-US", "verified": True}


def application_json(state: EmulatorState) -> dict[str, Any]:
    """The PrivateApplicationResponse of `GET /applications/@me`."""
    bot = state.bot_user
    return {
        "id": str(state.application_id),
        "name": bot.username,
        "icon": None,
        "description": "",
        "type": None,
        "bot": user_json(bot),
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": 0,
        "flags_new": "0",
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "owner": user_json(bot),
        "approximate_guild_count": len(state.guilds),
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "team": None,
        "eligible_oauth2_scopes": [],
    }


def role_json(role: Role) -> dict[str, Any]:
    """A role as GUILD_CREATE carries it."""
    return {
        "id": str(role.id),
        "name": role.name,
        "permissions": str(role.permissions),
        "position": role.position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": False,
        "mentionable": True,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


def member_json(member: Member, *, permissions: int | None = None) -> dict[str, Any]:
    """A guild member; interactions add the member's `permissions` in the channel."""
    data: dict[str, Any] = {
        "user": user_json(member.user),
        "roles": [str(role_id) for role_id in member.roles],
        "joined_at": member.joined_at,
        "nick": None,
        "avatar": None,
        "banner": None,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def channel_json(channel: Channel, position: int = 0) -> dict[str, Any]:
    """A GuildChannelResponse, PrivateChannelResponse or ThreadResponse."""
    if channel.type is ChannelType.PUBLIC_THREAD:
        return thread_json(channel)
    if channel.type is ChannelType.DM:
        assert channel.recipient is not None
        return {
            "id": str(channel.id),
            "type": int(channel.type),
            "flags": 0,
            "last_message_id": None,
            "recipients": [user_json(channel.recipient)],
        }
    return {
        "id": str(channel.id),
        "type": int(channel.type),
        "flags": 0,
        "guild_id": str(channel.guild_id),
        "name": channel.name,
        "position": position,
        "parent_id": None,
        "topic": None,
        "nsfw": channel.nsfw,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "permission_overwrites": [],
    }


def thread_json(thread: Channel) -> dict[str, Any]:
    """A ThreadResponse: an open public thread."""
    return {
        "id": str(thread.id),
        "type": int(thread.type),
        "flags": 0,
        "guild_id": str(thread.guild_id),
        "name": thread.name,
        "parent_id": str(thread.parent_id),
        "owner_id": str(thread.owner_id),
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "thread_metadata": {
            "archived": False,
            "archive_timestamp": "2024-01-01T00:00:00+00:00",
            "auto_archive_duration": 1440,
            "locked": False,
        },
    }


def guild_json(guild: Guild, joined_at: str, *, joined_now: bool = False) -> dict[str, Any]:
    """The full guild of a GUILD_CREATE dispatch. One that fills in an unavailable guild from READY
    says `unavailable: false`; one for a guild the bot just joined leaves it out (discord.py tells
    `on_guild_available` from `on_guild_join` by this)."""
    data: dict[str, Any] = {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner.id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": guild.locale,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "features": [],
        "max_members": 500000,
        "max_video_channel_users": 25,
        "vanity_url_code": None,
        "application_id": None,
        "joined_at": joined_at,
        "large": False,
        "unavailable": False,
        "member_count": len(guild.members),
        "roles": [role_json(role) for role in guild.roles],
        "channels": [channel_json(channel, position) for position, channel in enumerate(guild.channels)],
        "members": [member_json(member) for member in guild.members.values()],
        "emojis": [],
        "stickers": [],
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }
    if joined_now:
        del data["unavailable"]
    return data


def attachment_json(attachment: Attachment, channel_id: int) -> dict[str, Any]:
    """A MessageAttachmentResponse; the URL is never fetched, so it only has to look right."""
    url = f"{CDN}/attachments/{channel_id}/{attachment.id}/{attachment.filename}"
    data: dict[str, Any] = {
        "id": str(attachment.id),
        "filename": attachment.filename,
        "size": attachment.size,
        "url": url,
        "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
    }
    if attachment.content_type is not None:
        data["content_type"] = attachment.content_type
    if attachment.description is not None:
        data["description"] = attachment.description
    return data


def message_json(message: Message, state: EmulatorState) -> dict[str, Any]:
    """A MessageResponse."""
    channel = state.channels[message.channel_id]
    interaction = state.interactions.get(message.interaction_id or 0)
    data: dict[str, Any] = {
        "id": str(message.id),
        "channel_id": str(message.channel_id),
        "type": 0 if interaction is None or interaction.original is not message else 20,
        "author": user_json(message.author),
        "content": message.content,
        "embeds": message.embeds,
        "components": message.components,
        "attachments": [attachment_json(a, message.channel_id) for a in message.attachments],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": False,
        "flags": message.flags,
        "timestamp": message.created_at.isoformat(),
        "edited_timestamp": message.edits[-1].at.isoformat() if message.edits else None,
    }
    if channel.guild_id is not None:
        data["guild_id"] = str(channel.guild_id)
    if message.webhook_id is not None:
        data["webhook_id"] = str(message.webhook_id)
        data["application_id"] = str(state.application_id)
    if interaction is not None:
        data["interaction_metadata"] = interaction_metadata_json(interaction)
    return data


def interaction_metadata_json(interaction: Interaction) -> dict[str, Any]:
    """What a message says about the interaction it answers (the fields differ per type)."""
    data: dict[str, Any] = {
        "id": str(interaction.id),
        "type": int(interaction.type),
        "user": user_json(interaction.user),
        "authorizing_integration_owners": {"0": str(interaction.channel.guild_id or 0)},
    }
    if interaction.type is InteractionType.MESSAGE_COMPONENT and interaction.message is not None:
        data["interacted_message_id"] = str(interaction.message.id)
    if interaction.type is InteractionType.MODAL_SUBMIT and interaction.trigger is not None:
        data["triggering_interaction_metadata"] = interaction_metadata_json(interaction.trigger)
    return data


def interaction_json(interaction: Interaction, state: EmulatorState) -> dict[str, Any]:
    """The INTERACTION_CREATE dispatch, with every key discord.py 2.7.1 requires."""
    channel = interaction.channel
    guild = state.guild_of(channel)
    data: dict[str, Any] = {
        "id": str(interaction.id),
        "application_id": str(state.application_id),
        "type": int(interaction.type),
        "data": interaction.data,
        "token": interaction.token,
        "version": 1,
        "channel_id": str(channel.id),
        "channel": channel_json(channel),
        "app_permissions": str(channel.app_permissions),
        "locale": interaction.user.locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": guild.attachment_size_limit if guild else state.dm_attachment_size_limit,
    }
    if guild is not None:
        member = guild.members[interaction.user.id]
        data |= {
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
            "guild_locale": guild.locale,
            "member": member_json(member, permissions=guild.permissions_of(member)),
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
        }
    else:
        data |= {
            "user": user_json(interaction.user),
            "authorizing_integration_owners": {"0": "0"},
            "context": 1,
        }
    if interaction.message is not None:
        data["message"] = message_json(interaction.message, state)
    return data
