"""Server rules in Redis, for bots that share a queue there (QUEUE_URL): every process sees one set.

Keys, under the queue's prefix:

- `rules:{guild}`: a hash with `doc` (the `GuildRules` JSON) and `version`, raised by every change;
- `rules:audit:{guild}`: a stream of every change, never trimmed (an edit is a rare, small record).

Each process keeps the last document it read per server with its version, and on every `/video` asks
Redis only for the version (one round trip): a change made by any process applies to the next request
everywhere, without a restart and without pub/sub that a reconnect could miss. A change is a WATCHed
transaction, retried if another process wrote between the read and the write. What Redis holds is
untrusted input: a damaged document or audit record is logged and read as no rule, never a crash.

A key is never deleted (resetting a rule writes a document without it), so a server whose key is gone
while this process holds a document it read there lost it with Redis's data (restarted without its
append-only file, or flushed): the process writes its copy back, with an audit entry saying so, rather
than letting the server's channels, roles and blocklist fall silently back to the operator's.
"""

from __future__ import annotations

import logging
from typing import Final, cast

import redis.asyncio as redis
from redis.exceptions import WatchError
from redis.typing import EncodableT, FieldT

from bot.errors import RefusedError
from bot.i18n import marked
from bot.moderation.rules_audit import BY_THE_BOT, AuditEntry, changes
from bot.moderation.rules_store import Edit, parse_rules
from bot.moderation.server_rules import NO_RULES, GuildRules

log = logging.getLogger(__name__)

RULES_BUSY: Final = marked(
    "The rules could not be saved: Redis, where they are kept, is full right now. "
    "Nothing was changed; try again in a few minutes."
)

#: Edits are rare; a change that lost this many races in a row means something else is wrong.
_ATTEMPTS: Final = 20


class RedisRulesStore:
    """`RulesStore` on a `redis.asyncio` client (`decode_responses=True`) under the queue's `prefix`."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._read: dict[int, tuple[str, GuildRules]] = {}

    async def open(self) -> None:
        """Nothing to create: Redis makes keys on first write."""

    async def close(self) -> None:
        """Close the client."""
        await self._client.aclose()

    def _key(self, guild_id: int) -> str:
        return f"{self._prefix}rules:{guild_id}"

    def _audit_key(self, guild_id: int) -> str:
        return f"{self._prefix}rules:audit:{guild_id}"

    async def rules(self, guild_id: int) -> GuildRules:
        """The current rules: the cached document while its version is current, else read again."""
        key = self._key(guild_id)
        version = cast(str | None, await self._client.hget(key, "version"))
        cached = self._read.get(guild_id)
        if version is None:
            return NO_RULES if cached is None else await self._restore(guild_id, *cached)
        if cached is not None and cached[0] == version:
            return cached[1]
        version, doc = cast(list[str | None], await self._client.hmget(key, ["version", "doc"]))
        rules = parse_rules(guild_id, doc)
        if version is not None:
            self._read[guild_id] = (version, rules)
        return rules

    async def _restore(self, guild_id: int, version: str, rules: GuildRules) -> GuildRules:
        """Write back the rules this process last read for a server whose key Redis lost, unless another
        process did first (then read theirs); the audit trail says when and from which version."""
        key = self._key(guild_id)
        # One past the copy's version, so every process that cached an older document reads again (the
        # cached version came from Redis too: one that is not a number counts as 0).
        restored = (int(version) if version.isdecimal() else 0) + 1
        async with self._client.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                written_meanwhile = bool(await pipe.exists(key))
                if not written_meanwhile:
                    seconds, micros = await pipe.time()
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(key, mapping={"doc": rules.to_json(), "version": restored})
                    pipe.xadd(
                        self._audit_key(guild_id),
                        {
                            "at": repr(seconds + micros / 1e6), "user": BY_THE_BOT, "what": "all rules",
                            "old": "lost from Redis", "new": f"restored from a bot process's copy (version {version})",
                        },
                    )  # fmt: skip
                    await pipe.execute()
            except WatchError:
                written_meanwhile = True
        if written_meanwhile:  # another process restored or changed them first: theirs stand
            self._read.pop(guild_id, None)
            return await self.rules(guild_id)
        log.error(
            "the rules of guild_id=%s were gone from Redis (restarted without its data?); "
            "restored this process's copy (version %s)",
            guild_id,
            version,
        )
        self._read[guild_id] = (str(restored), rules)
        return rules

    async def change(self, guild_id: int, user_id: int, at: float, edit: Edit) -> list[AuditEntry]:
        """Apply `edit` and append its audit entries in one transaction (retried on a concurrent write)."""
        key, audit_key = self._key(guild_id), self._audit_key(guild_id)
        for _ in range(_ATTEMPTS):
            async with self._client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    old = parse_rules(guild_id, cast(str | None, await pipe.hget(key, "doc")))
                    new = edit(old)
                    entries = changes(old, new, user_id, at)
                    if not entries:
                        return []
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(key, "doc", new.to_json())
                    pipe.hincrby(key, "version", 1)
                    for entry in entries:
                        fields: dict[FieldT, EncodableT] = {
                            "at": repr(entry.at), "user": entry.user_id, "what": entry.what, "old": entry.old,
                            "new": entry.new,
                        }  # fmt: skip
                        pipe.xadd(audit_key, fields)
                    await pipe.execute()
                    return entries
                except WatchError:
                    continue
                except redis.OutOfMemoryError:  # MULTI writes all or nothing: nothing was changed
                    log.warning("rule change refused: Redis is at its memory limit (maxmemory) guild_id=%s", guild_id)
                    raise RefusedError(RULES_BUSY) from None
        raise RuntimeError(f"the rules of guild_id={guild_id} kept changing under this edit; try again")

    async def audit(self, guild_id: int, limit: int) -> list[AuditEntry]:
        """The last `limit` entries, newest first; a damaged record is logged and left out."""
        records = cast(
            list[tuple[str, dict[str, str]]], await self._client.xrevrange(self._audit_key(guild_id), count=limit)
        )
        entries = []
        for record_id, fields in records:
            try:
                entries.append(
                    AuditEntry(float(fields["at"]), int(fields["user"]), fields["what"], fields["old"], fields["new"])
                )
            except (KeyError, ValueError, TypeError) as error:
                log.error("ignoring the damaged audit record %s of guild_id=%s: %r", record_id, guild_id, error)
        return entries
