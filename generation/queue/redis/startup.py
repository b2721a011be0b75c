"""Is the Redis of QUEUE_URL fit to hold the queue? Asked once at start-up by the bot and every worker.

    problem = await check_redis(url)     # None: go on
    if problem is not None and problem.trouble.fatal:
        ...exit with problem.line()

Each answer is one line naming what is wrong and the fix: a URL that is not Redis's, credentials or an
ACL Redis refuses (told apart from nobody answering), and an eviction policy that would let Redis delete
jobs when its memory is full.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoPermissionError

#: A check at start-up may not hang for the OS's minutes-long connect timeout on a black-holed route.
_CHECK_TIMEOUT_S: Final = 10.0
_REDIS_URL_FIX: Final = "correct QUEUE_URL in .env or the environment (redis://host:6379/0)"
_ACL_DOC: Final = 'docs/deploy.md, "Redis, safely"'
_CREDENTIALS_FIX: Final = (
    f"put the user and password Redis expects in QUEUE_URL (redis://USER:PASSWORD@host:6379/0; {_ACL_DOC})"
)
_EVICTION_FIX: Final = (
    "set maxmemory-policy noeviction on that Redis (`redis-server --maxmemory-policy noeviction`, "
    "`CONFIG SET maxmemory-policy noeviction` plus `CONFIG REWRITE`, or a managed Redis's parameter group)"
)


class RedisTrouble(enum.Enum):
    """Why Redis cannot hold the queue, as start-up reports it."""

    URL = "QUEUE_URL is not a Redis URL"
    CREDENTIALS = "Redis refused the user or password of QUEUE_URL, or its ACL forbids a command"
    UNREACHABLE = "nobody answers at QUEUE_URL"
    EVICTION = "Redis may evict keys, and with them jobs"
    EVICTION_UNKNOWN = "Redis would not say whether it evicts keys (a warning)"

    @property
    def fatal(self) -> bool:
        """False only for what start-up warns about and goes on."""
        return self is not RedisTrouble.EVICTION_UNKNOWN


@dataclass(frozen=True)
class RedisProblem:
    """One thing wrong with the Redis of QUEUE_URL: what, and the fix (never the password)."""

    trouble: RedisTrouble
    message: str
    fix: str

    def line(self) -> str:
        """The message, then the fix, as one line."""
        return f"{self.message.rstrip('.')}. Fix: {self.fix}."


async def check_redis(url: str) -> RedisProblem | None:
    """Why Redis at `url` cannot hold the queue safely, or None when it can.

    One attempt, without redis-py's retries (a refused password would be retried for seconds): the URL
    must parse, Redis must answer PING with the URL's credentials, and its `maxmemory-policy` must be
    `noeviction`: an evicting Redis drops job records and the scheduler's keys when memory runs out,
    without a word to anyone. The policy is read with `CONFIG GET`, or, where a managed Redis forbids
    that, from `INFO memory`; when neither answers the problem is `EVICTION_UNKNOWN`, a warning.
    """
    try:
        client: redis.Redis = redis.Redis.from_url(
            url, decode_responses=True, retry=Retry(NoBackoff(), 0), socket_connect_timeout=_CHECK_TIMEOUT_S,
            socket_timeout=_CHECK_TIMEOUT_S,
        )  # fmt: skip
    except ValueError as error:
        return RedisProblem(
            RedisTrouble.URL, f"QUEUE_URL is not a Redis URL ({error}); expected redis://host:6379/0", _REDIS_URL_FIX
        )
    kwargs = client.connection_pool.connection_kwargs
    where = f"Redis at {kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '?')}"
    try:
        await client.ping()
        policy = await _eviction_policy(client)
    except redis.AuthenticationError as error:
        given = "no password" if kwargs.get("password") is None else f"user {kwargs.get('username') or 'default'}"
        message = f"{where} refused the credentials in QUEUE_URL ({given}): {error}"
        return RedisProblem(RedisTrouble.CREDENTIALS, message, _CREDENTIALS_FIX)
    except NoPermissionError as error:
        user = kwargs.get("username") or "default"
        message = f"{where} refused the credentials in QUEUE_URL: user {user}'s ACL forbids PING ({error})"
        return RedisProblem(RedisTrouble.CREDENTIALS, message, f"grant {user} the queue's commands ({_ACL_DOC})")
    except (redis.RedisError, OSError) as error:
        message = f"cannot reach Redis at {kwargs.get('host', '?')}:{kwargs.get('port', '?')} (QUEUE_URL): {error}"
        return RedisProblem(RedisTrouble.UNREACHABLE, message, f"start Redis, or {_REDIS_URL_FIX}")
    finally:
        await client.aclose()
    if policy is None:
        message = (
            f"{where} answers neither CONFIG GET maxmemory-policy nor INFO memory, so whether it evicts keys "
            "(and with them waiting jobs) when its memory is full is unknown"
        )
        return RedisProblem(RedisTrouble.EVICTION_UNKNOWN, message, f"make sure it is noeviction: {_EVICTION_FIX}")
    if policy != "noeviction":
        message = (
            f"{where} has maxmemory-policy {policy}: when its memory is full it deletes keys, and with them "
            "waiting jobs and the queue's order, without telling anyone"
        )
        return RedisProblem(RedisTrouble.EVICTION, message, _EVICTION_FIX)
    return None


async def _eviction_policy(client: redis.Redis) -> str | None:
    """`maxmemory-policy`, from CONFIG GET or else INFO memory; None when Redis answers neither."""
    try:
        policy = (await client.config_get("maxmemory-policy")).get("maxmemory-policy")
    except redis.ResponseError:  # CONFIG renamed away (managed Redis) or forbidden by the user's ACL
        policy = None
    if policy is None:
        try:
            policy = (await client.info("memory")).get("maxmemory_policy")
        except redis.ResponseError:
            return None
    return str(policy) if policy is not None else None
