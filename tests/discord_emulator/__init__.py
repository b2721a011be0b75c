"""A local Discord API (REST + gateway) that the real discord.py 2.7.1 client connects to, for tests.

`openapi.json` is Discord's published OpenAPI description (github.com/discord/discord-api-spec, MIT,
see LICENSE-openapi); every request the bot sends and every response the emulator gives is checked
against it.

Pointing a client at it (the `discord_client_endpoints` fixture does this and restores afterwards)::

    discord.http.Route.BASE = emulator.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emulator.gateway_url)
    await client.login(emulator.bot_token)   # then client.connect()

Driving API (all on `DiscordEmulator`; `await` marks coroutines):

- lifecycle: `DiscordEmulator(openapi_path=None, *, clock=None, pacing=None)`, `await start()`,
  `await stop()`, `api_url`, `gateway_url`, `application_id`, `bot_token`, `bot_user`, `clock`
  (`clock.advance(seconds)` ages interactions and tokens), `pacing` (what rate-limit windows and the
  heartbeat check run on: real time, or a `FakeClock` the test passes and moves).
- world: `add_guild(name="g", attachment_size_limit=10 MiB, shard=None) -> Guild` (`.id`, `.owner`;
  `shard=Shard(id, count)` picks an id on that shard),
  `add_channel(guild, name="general", nsfw=False, bot_permissions=None) -> Channel`,
  `add_dm_channel(user)`, `add_user(name) -> User`, `add_role(guild, name, permissions=0) -> Role`,
  `add_member(guild, user, roles=(), permissions=None) -> Member`. Things added after the bot connected
  are dispatched (GUILD_CREATE, CHANNEL_CREATE, GUILD_ROLE_CREATE, GUILD_MEMBER_ADD).
- user actions: `await invoke_slash(user, channel, "video" | "admin pause", {option: value})`,
  `await click_button(user, message, custom_id)`, `await select(user, message, custom_id, [values])`,
  `await submit_modal(user, interaction, modal_custom_id, {input_custom_id: value})`; each returns the
  `Interaction` record at once (after dispatching INTERACTION_CREATE).
- observing: `await wait_until_ready()`, `await wait_for(predicate, timeout=PATIENCE_S)`,
  `await wait_for_message(channel_id=None, predicate=..., timeout=PATIENCE_S) -> Message`,
  `messages(channel)`, `commands(guild=None)`, `interactions`, `requests`, `violations`,
  `pings(message) -> Pings`; on an `Interaction`: `await wait_for_response()`, `.original`,
  `.followups`, `.callbacks`, `.modal`; on a `Message`: `.content`, `.embeds`, `.components`,
  `.attachments[i].data`, `.flags`/`.ephemeral`, `.edits`, `.deleted`.
- rules: `response_deadline` (seconds, default 3.0; None disables), `expire_interaction(interaction)`,
  `reaction_delay` (a user's pause before clicking a fresh message; default 0.05 s). Always on: Discord's
  rate limits (`ratelimits.py`), the heartbeat (`gateway.heartbeat_interval_ms`, default 41,250; a
  connection silent for 1.5 intervals is closed), message limits (`message_limits.py`).
- faults (`emulator.faults`): `fail(method, route, status=500, times=1)`,
  `rate_limit(method, route, retry_after=0.1, is_global=False, times=1)`,
  `delay(method, route, seconds=..., times=1)`, `await close_gateway(invalidate_session=False)`.
  `route` is the OpenAPI path template, e.g. `"/channels/{channel_id}/messages"`.
- gateway state (`emulator.gateway`): `identify_count`, `resume_count`, `connected`, `ready`, `intents`,
  `replayed` (a list of `Dispatch(seq, event, data)`), `sessions` (by shard id: `Session` with `.shard`,
  `.dispatches`, `.connected`), `shard_count`, `recommended_shards` (GET /gateway/bot's `shards`) and
  `sharding_required` (an IDENTIFY with fewer shards is closed with 4011).
- sharding (`sessions.py`): a bot that IDENTIFYs with `shard: [id, count]` is sent only the events of
  its guilds, `(guild_id >> 22) % count == id`; an invalid shard is closed with 4010.

Violations (spec mismatches both ways, a late or repeated interaction response, a message over
Discord's limits, a route the emulator does not serve, an emulator bug) are recorded, never raised
into the bot; the `discord_emulator` fixture fails the test at teardown if any remain.
"""

from .mentions import Pings
from .models import (
    Attachment,
    Channel,
    Guild,
    Interaction,
    InteractionCallback,
    Member,
    Message,
    RecordedRequest,
    Role,
    User,
    Violation,
    ViolationKind,
)
from .server import DiscordEmulator
from .sessions import Shard, shard_of

__all__ = [
    "Attachment",
    "Channel",
    "DiscordEmulator",
    "Guild",
    "Interaction",
    "InteractionCallback",
    "Member",
    "Message",
    "Pings",
    "RecordedRequest",
    "Role",
    "Shard",
    "User",
    "Violation",
    "ViolationKind",
    "shard_of",
]
