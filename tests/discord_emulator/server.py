"""`DiscordEmulator`: the local Discord a real discord.py client logs in to, and the API tests drive."""

# The waits take `timeout=` like asyncio.wait_for, so tests read plainly.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import copy
import secrets
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.patience import PATIENCE_S

from .cdn import CDN_PREFIX, Cdn
from .commands import autocomplete_data, slash_command_data
from .components import filled_modal, find_component
from .faults import Faults
from .gateway import Gateway
from .interaction_routes import InteractionRoutes
from .mentions import Pings, pings
from .models import (
    DEFAULT_ATTACHMENT_LIMIT,
    INTERACTION_TOKEN_LIFETIME,
    Attachment,
    Channel,
    EmulatorClock,
    Guild,
    Interaction,
    InteractionType,
    Member,
    Message,
    RecordedRequest,
    Role,
    User,
    Violation,
)
from .openapi import load_spec
from .pacing import Pacing, RealPacing
from .payloads import channel_json, guild_json, interaction_json, member_json, role_json
from .pipeline import API_PREFIX, Pipeline
from .ratelimits import RateLimits
from .rest import RestRoutes
from .sessions import Shard
from .state import EmulatorState

RESPONSE_DEADLINE = 3.0
# Like a person, a test cannot act on a message in the instant it appears; the pause also lets
# discord.py finish handling the HTTP reply (e.g. registering a view) before the click arrives.
REACTION_DELAY = 0.05


class DiscordEmulator:
    """A local Discord: REST at `api_url`, gateway at `gateway_url`, state and driving API for tests."""

    def __init__(
        self, openapi_path: Path | None = None, *, clock: EmulatorClock | None = None, pacing: Pacing | None = None
    ) -> None:
        """`clock` ages interactions and stamps messages; `pacing` times rate-limit windows and the
        heartbeat (both real time unless given, e.g. a `FakeClock` a test moves)."""
        self._state = EmulatorState(clock=clock)
        self.pacing: Pacing = pacing or RealPacing()
        self.gateway = Gateway(self._state, self.pacing)
        self.faults = Faults(self.gateway, self._state.notify)
        self.response_deadline: float | None = RESPONSE_DEADLINE
        self.reaction_delay = REACTION_DELAY
        rate_limits = RateLimits(self.pacing, self._state.clock)
        self._spec = load_spec(openapi_path)
        self._pipeline = Pipeline(self._state, self._spec, self.faults, rate_limits)
        self.cdn = Cdn(self._state.clock)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.api_url = ""
        self.gateway_url = ""

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve on 127.0.0.1 at a free port."""
        app = web.Application(client_max_size=1024 * 2**20)
        app.router.add_get("/gateway", self.gateway.handle)
        for method, route, handler in [
            *RestRoutes(self._state, self.gateway).table(),
            *InteractionRoutes(self._state, self.gateway).table(),
        ]:
            app.router.add_route(method, API_PREFIX + route, self._pipeline.endpoint(route, handler))
        app.router.add_get(CDN_PREFIX + "/{channel_id}/{attachment_id}/{filename}", self.cdn.serve)
        app.router.add_route("*", "/{tail:.*}", self._pipeline.unknown_route)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.api_url = f"http://127.0.0.1:{port}{API_PREFIX}"
        self.cdn.base_url = f"http://127.0.0.1:{port}"
        self.gateway_url = f"ws://127.0.0.1:{port}/gateway"
        self.gateway.url = self.gateway_url

    async def stop(self) -> None:
        """Close the gateway and the server."""
        for task in list(self._tasks):
            await task
        await self.gateway.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- identity and records -------------------------------------------------------------------

    @property
    def application_id(self) -> int:
        """The bot's application id (also its user id)."""
        return self._state.application_id

    @property
    def bot_token(self) -> str:
        """The token the bot must log in with."""
        return self._state.bot_token

    @property
    def bot_user(self) -> User:
        """The bot's user."""
        return self._state.bot_user

    @property
    def clock(self) -> EmulatorClock:
        """The emulator's clock; `clock.advance(s)` ages interactions without waiting."""
        return self._state.clock

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request the bot made, in order."""
        return self._state.requests

    @property
    def violations(self) -> list[Violation]:
        """OpenAPI and Discord-rule breaches found so far (the fixture fails the test on any)."""
        return self._state.violations

    @property
    def interactions(self) -> list[Interaction]:
        """Every interaction sent to the bot, in order."""
        return list(self._state.interactions.values())

    # -- building the world ---------------------------------------------------------------------

    def add_guild(
        self, name: str = "g", attachment_size_limit: int = DEFAULT_ATTACHMENT_LIMIT, *, shard: Shard | None = None
    ) -> Guild:
        """A guild the bot is in (sent as GUILD_CREATE if its shard is connected); with `shard`, one whose
        id puts it on that shard."""
        guild = self._state.add_guild(name, attachment_size_limit, None if shard is None else (shard.id, shard.count))
        self._dispatch_if_ready(
            guild, "GUILD_CREATE", lambda: guild_json(guild, self.clock.utcnow().isoformat(), joined_now=True)
        )
        return guild

    def add_channel(
        self, guild: Guild, name: str = "general", nsfw: bool = False, bot_permissions: int | None = None
    ) -> Channel:
        """A text channel; `bot_permissions` (None = full text permissions) become `app_permissions`."""
        channel = self._state.add_channel(guild, name, nsfw=nsfw, bot_permissions=bot_permissions)
        self._dispatch_if_ready(guild, "CHANNEL_CREATE", lambda: channel_json(channel, len(guild.channels) - 1))
        return channel

    def add_thread(
        self, parent: Channel, name: str = "thread", *, owner: User, bot_permissions: int | None = None
    ) -> Channel:
        """A public thread of `parent` started by `owner`; `bot_permissions` as for `add_channel`. The bot
        learns of it from the interactions used in it (no THREAD_CREATE is sent)."""
        return self._state.add_thread(parent, name, owner=owner, bot_permissions=bot_permissions)

    def add_dm_channel(self, user: User) -> Channel:
        """The DM channel between `user` and the bot."""
        return self._state.add_dm_channel(user)

    def add_user(self, username: str, *, locale: str = "en-US") -> User:
        """A new (human) account whose Discord app is set to `locale` (e.g. "de", "ja", "pt-BR")."""
        return self._state.add_user(username, locale=locale)

    def add_role(self, guild: Guild, name: str, permissions: int = 0) -> Role:
        """A role in `guild`."""
        role = self._state.add_role(guild, name, permissions)
        self._dispatch_if_ready(
            guild, "GUILD_ROLE_CREATE", lambda: {"guild_id": str(guild.id), "role": role_json(role)}
        )
        return role

    def add_member(
        self, guild: Guild, user: User, roles: Iterable[Role] = (), permissions: int | None = None
    ) -> Member:
        """Make `user` a member; `permissions` fixes their permissions (else: derived from roles)."""
        member = self._state.add_member(guild, user, roles, permissions)
        self._dispatch_if_ready(guild, "GUILD_MEMBER_ADD", lambda: {"guild_id": str(guild.id), **member_json(member)})
        return member

    def commands(self, guild: Guild | None = None) -> list[dict[str, Any]]:
        """The commands the bot synced: global ones, or those of `guild`."""
        if guild is None:
            return list(self._state.global_commands)
        return list(self._state.guild_commands.get(guild.id, []))

    # -- observing ------------------------------------------------------------------------------

    async def wait_until_ready(self, timeout: float = PATIENCE_S) -> None:
        """Until the bot identified and every GUILD_CREATE was sent."""
        await self.wait_for(lambda: self.gateway.ready and self.gateway.connected, timeout=timeout)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = PATIENCE_S) -> None:
        """Until `predicate()` holds, re-checked whenever the emulator's state changes."""
        await self._state.wait_for(predicate, timeout=timeout)

    async def wait_for_message(
        self,
        channel_id: int | None = None,
        predicate: Callable[[Message], bool] = lambda message: True,
        timeout: float = PATIENCE_S,
    ) -> Message:
        """The first visible message (in `channel_id`, if given) matching `predicate`."""
        found: list[Message] = []

        def match() -> bool:
            for message in self._state.messages.values():
                if not message.deleted and channel_id in (None, message.channel_id) and predicate(message):
                    found.append(message)
                    return True
            return False

        await self.wait_for(match, timeout=timeout)
        return found[0]

    def messages(self, channel: Channel) -> list[Message]:
        """The channel's messages that are not deleted, oldest first (ephemeral ones included)."""
        return self._state.visible_messages(channel.id)

    def pings(self, message: Message) -> Pings:
        """Who `message` notifies."""
        channel = self._state.channels[message.channel_id]
        return pings(message, self._state.guild_of(channel), channel.app_permissions)

    def abort_waits(self, reason: str) -> None:
        """Fail every current and later wait at once (used when the bot logged an error)."""
        self._state.abort_waits(reason)

    def allow_waits(self) -> None:
        """Let waits work again after `abort_waits` (the test claimed the error it expected)."""
        self._state.allow_waits()

    def attachment(self, filename: str, data: bytes, content_type: str | None) -> Attachment:
        """A file a user is about to attach: pass it as an attachment option's value to `invoke_slash`."""
        return Attachment(id=self._state.ids.next(), filename=filename, content_type=content_type, data=data)

    def expire_upload(self, attachment: Attachment) -> None:
        """Make an attached file's link dead (expired, or the file deleted), before or after it is posted: 404."""
        self.cdn.gone.add(attachment.id)

    def expire_interaction(self, interaction: Interaction) -> None:
        """End the interaction's token life now, as if 15 minutes had passed."""
        interaction.expires_at = self.clock.now()

    # -- acting as a user -----------------------------------------------------------------------

    async def invoke_slash(
        self, user: User, channel: Channel, command: str, options: Mapping[str, Any] | None = None
    ) -> Interaction:
        """Run `/command` (e.g. `"video"` or `"admin pause"`) as `user`, like the Discord client would."""
        guild = self._state.guild_of(channel)

        def upload(attachment: Attachment) -> dict[str, Any]:
            return self.cdn.resolved_json(self.cdn.add(attachment, channel.id), self._spec)

        commands = self._state.commands_for(channel.guild_id)
        data = slash_command_data(commands, guild, command, options or {}, upload)
        return await self._interact(InteractionType.APPLICATION_COMMAND, user, channel, data, None)

    async def autocomplete(
        self, user: User, channel: Channel, command: str, options: Mapping[str, Any], focused: str
    ) -> Interaction:
        """Type `options[focused]` into the autocomplete option `focused` of `/command`, as `user`; the bot's
        answer (an autocomplete result) is the interaction's callback, its `data["choices"]`."""
        data = autocomplete_data(
            self._state.commands_for(channel.guild_id), self._state.guild_of(channel), command, options, focused
        )
        return await self._interact(InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE, user, channel, data, None)

    async def invoke_outdated_slash(
        self,
        user: User,
        channel: Channel,
        command: str,
        options: Mapping[str, Any],
        declared_then: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Interaction:
        """Run `/command` as a client whose cache holds an older version of it: `declared_then` turns the
        synced command into the one the client still shows, and `options` are checked against that."""
        guild = self._state.guild_of(channel)

        def upload(attachment: Attachment) -> dict[str, Any]:
            return self.cdn.resolved_json(self.cdn.add(attachment, channel.id), self._spec)

        cached = [
            declared_then(copy.deepcopy(c)) if c["name"] == command.split()[0] else c
            for c in self._state.commands_for(channel.guild_id)
        ]
        data = slash_command_data(cached, guild, command, options, upload)
        return await self._interact(InteractionType.APPLICATION_COMMAND, user, channel, data, None)

    async def click_button(self, user: User, message: Message, custom_id: str) -> Interaction:
        """Press the button `custom_id` on `message`."""
        component = self._component(message, custom_id)
        if component.get("type") != 2 or component.get("disabled"):
            raise ValueError(f"{custom_id!r} is not an enabled button on message {message.id}")
        data = {"custom_id": custom_id, "component_type": 2, "id": component["id"]}
        return await self._on_message(InteractionType.MESSAGE_COMPONENT, user, message, data)

    async def select(self, user: User, message: Message, custom_id: str, values: list[str]) -> Interaction:
        """Pick `values` in the string select `custom_id` on `message`."""
        component = self._component(message, custom_id)
        offered = [option["value"] for option in component.get("options", [])]
        if component.get("type") != 3 or component.get("disabled") or not set(values) <= set(offered):
            raise ValueError(f"cannot pick {values} in {custom_id!r} (offers {offered})")
        data = {"custom_id": custom_id, "component_type": 3, "id": component["id"], "values": values}
        return await self._on_message(InteractionType.MESSAGE_COMPONENT, user, message, data)

    async def submit_modal(
        self, user: User, interaction: Interaction, custom_id: str, values: Mapping[str, str]
    ) -> Interaction:
        """Fill in and submit the modal the bot answered `interaction` with."""
        modal = interaction.modal
        if modal is None or modal.get("custom_id") != custom_id:
            raise ValueError(f"interaction {interaction.id} was not answered with modal {custom_id!r}")
        components = filled_modal(modal.get("components", []), values)
        data = {"custom_id": custom_id, "components": components}
        shown_at = interaction.callbacks[-1].at
        await asyncio.sleep(max(0.0, shown_at + self.reaction_delay - self.clock.now()))
        return await self._interact(
            InteractionType.MODAL_SUBMIT, user, interaction.channel, data, interaction.message, interaction
        )

    async def _on_message(
        self, kind: InteractionType, user: User, message: Message, data: dict[str, Any]
    ) -> Interaction:
        if message.deleted:
            raise ValueError(f"message {message.id} is deleted")
        await asyncio.sleep(max(0.0, message.changed_at + self.reaction_delay - self.clock.now()))
        channel = self._state.channels[message.channel_id]
        return await self._interact(kind, user, channel, data, message)

    async def _interact(
        self,
        kind: InteractionType,
        user: User,
        channel: Channel,
        data: dict[str, Any],
        message: Message | None,
        trigger: Interaction | None = None,
    ) -> Interaction:
        guild = self._state.guild_of(channel)
        if guild is not None and user.id not in guild.members:
            raise ValueError(f"{user.username} is not a member of {guild.name}; add_member() first")
        now = self.clock.now()
        interaction = Interaction(
            id=self._state.ids.next(),
            token=secrets.token_urlsafe(48),
            type=kind,
            user=user,
            channel=channel,
            data=data,
            created_at=now,
            respond_by=None if self.response_deadline is None else now + self.response_deadline,
            expires_at=now + INTERACTION_TOKEN_LIFETIME,
            message=message,
            trigger=trigger,
            _state=self._state,
        )
        self._state.add_interaction(interaction)
        await self.gateway.dispatch(
            "INTERACTION_CREATE", interaction_json(interaction, self._state), None if guild is None else guild.id
        )
        return interaction

    def _component(self, message: Message, custom_id: str) -> dict[str, Any]:
        component = find_component(message.components, custom_id)
        if component is None:
            raise ValueError(f"message {message.id} has no component {custom_id!r}")
        return component

    def _dispatch_if_ready(self, guild: Guild, event: str, payload: Callable[[], dict[str, Any]]) -> None:
        if self.gateway.session_for(guild.id) is None:
            return
        # Sequenced now, so a user action that follows is dispatched after it, as on Discord.
        self.gateway.enqueue(event, payload(), guild.id)
        self._spawn(self.gateway.flush())

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
