"""Logging, configured in one place: readable text for operators or JSON lines for log collectors.

Every handler gets a redaction filter: the secrets passed in (the bot token), anything shaped like a
Discord bot token, and interaction tokens (in webhook and callback URLs, and as the value of any
`token`-named field in a payload) are replaced by `[REDACTED]` in the message, its arguments, the
`extra=` fields and the exception text, before any formatter sees the record. Call `configure_logging` once, first thing
in `main()`, and start discord.py with `bot.start()` (not `bot.run()`, which installs its own handler
unless given `log_handler=None`).

Off the event loop: a logging call only makes its record and puts it on a queue; redaction, formatting
and the write to stderr happen on a listener thread (`QueueHandler`/`QueueListener`), so a burst of
interactions does not wait on them, nor on a slow stderr. The message is merged with its arguments
there too, so pass arguments (`log.info("job_id=%s", job_id)`), never an f-string: a record below the
level costs nothing, and one above it is formatted once, off the loop. The queue is drained at exit;
`flush_logs()` waits for it (tests that read stderr).

Fields for one job event go in `extra=`, e.g.
`log.info("job finished", extra={"job_id": job.id, "user_id": user.id, "timings": result.timings})`:
text mode appends them as `key=value`, JSON mode as top-level keys.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import logging
import logging.handlers
import queue
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, TextIO

REDACTED = "[REDACTED]"

# Discord bot tokens are three base64url parts: the user id, a timestamp and an HMAC.
DISCORD_TOKEN_PATTERN = re.compile(r"(?<![\w-])[\w-]{20,}\.[\w-]{6,}\.[\w-]{25,}(?![\w-])", re.ASCII)
# An interaction token lets whoever holds it post as the bot in that channel for 15 minutes. discord.py
# logs it at DEBUG in REST URLs (/interactions/ID/TOKEN/callback, /webhooks/APP_ID/TOKEN/...) and in
# gateway payloads ('token': '...'); job contexts carry it as "interaction_token" (JSON, maybe escaped).
# Field names are matched in lower case only: DISCORD_TOKEN=<token> in a fix is advice, not a secret.
_TOKEN_IN_URL = re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/\s?#'\"\\]+")
_TOKEN_FIELD = re.compile(r"""(\b\w*token\\?["']?\s*[:=]\s*\\?["']?)[^\s"'\\,;&)}\[\]]+""")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)

Redact = Callable[[str], str]
_SCALARS = (str, int, float, type(None))


def make_redactor(secrets: Sequence[str]) -> Redact:
    """A function that replaces each secret, each bot-token-shaped string and each interaction token."""
    # Longest first, so a secret that contains another is replaced whole.
    known = sorted({secret for secret in secrets if secret}, key=len, reverse=True)

    def redact(text: str) -> str:
        for secret in known:
            text = text.replace(secret, REDACTED)
        text = _TOKEN_IN_URL.sub(rf"\g<1>{REDACTED}", text)
        text = _TOKEN_FIELD.sub(rf"\g<1>{REDACTED}", text)
        return DISCORD_TOKEN_PATTERN.sub(REDACTED, text)

    return redact


class RedactingFilter(logging.Filter):
    """Rewrites each record in place so that no later handler or formatter can see a secret."""

    def __init__(self, redact: Redact) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact and let the record through."""
        record.msg = self._redact(_message(record))
        record.args = None
        for key, value in _extras(record).items():
            setattr(record, key, _scrub(value, self._redact))
        if record.exc_info:
            # Render the traceback now, redacted, and drop the live exception so nothing re-renders it.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


class TextFormatter(logging.Formatter):
    """`2026-01-02 03:04:05,678 INFO     bot.queue: job finished  job_id=abc user_id=42`, then tracebacks."""

    def __init__(self, redact: Redact) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """One line per record, plus the traceback or stack lines below it."""
        line = f"{self.formatTime(record)} {record.levelname:<8} {record.name}: {_message(record)}"
        extras = _extras(record)
        if extras:
            line += "  " + " ".join(f"{key}={_text(value)}" for key, value in extras.items())
        for block in (_exception_text(self, record), record.stack_info):
            if block:
                line += "\n" + block
        return self._redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the `extra=` fields, exc_info, stack_info."""

    def __init__(self, redact: Redact) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record; values JSON cannot hold are written as their `str()`."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        entry |= {key: _plain(value) for key, value in _extras(record).items() if key not in entry}
        exception = _exception_text(self, record)
        if exception:
            entry["exc_info"] = exception
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return self._redact(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(level: str, fmt: Literal["text", "json"], secrets: Sequence[str]) -> None:
    """Send every logger's records to stderr at `level`, as text or JSON lines, with `secrets` redacted.

    Records go through a queue to a listener thread that redacts, formats and writes them (see the
    module docstring). The redaction filter also goes on handlers configured before (by libraries or a
    previous call), and uncaught exceptions are logged through it instead of printed raw. Calling it
    again replaces the previous configuration. Raises `ValueError` for an unknown level.
    """
    global _listener
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR (got {level!r})")
    redact = make_redactor(secrets)
    root = logging.getLogger()
    for handler in [handler for handler in root.handlers if isinstance(handler, _BotQueueHandler)]:
        root.removeHandler(handler)
    if _listener is not None:
        _listener.stop()  # writes what the previous configuration had queued
    writer = _BotHandler(sys.stderr)
    writer.setFormatter(JsonFormatter(redact) if fmt == "json" else TextFormatter(redact))
    writer.addFilter(RedactingFilter(redact))
    # SimpleQueue: a put is one C call, with no Condition to notify as queue.Queue has (per record, on the loop).
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, writer)
    _listener.start()
    root.addHandler(_BotQueueHandler(records))
    root.setLevel(numeric)
    loggers = [
        root,
        *(item for item in logging.root.manager.loggerDict.values() if isinstance(item, logging.Logger)),
    ]
    for logger in loggers:
        for each in logger.handlers:
            if isinstance(each, _BotQueueHandler):
                continue  # its listener's handler redacts, off the loop
            for old in [old for old in each.filters if isinstance(old, RedactingFilter)]:
                each.removeFilter(old)
            each.addFilter(RedactingFilter(redact))
    sys.excepthook = _log_uncaught


def flush_logs() -> None:
    """Wait until every record logged so far has been written (the listener stops once it has written
    them, and starts again)."""
    if _listener is not None:
        _listener.stop()
        _listener.start()


class _BotHandler(logging.StreamHandler[TextIO]):
    """Writes on the listener thread: the redaction filter and the formatter `configure_logging` chose."""


class _BotQueueHandler(logging.handlers.QueueHandler):
    """The handler `configure_logging` puts on the root logger, told apart so a second call can replace it."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """The record as it is: the listener's filter and formatter do the work, off the caller's thread
        (the stdlib's `prepare` would format it here, on the event loop)."""
        return record


_listener: logging.handlers.QueueListener | None = None


@atexit.register
def stop_logging() -> None:
    """Write what is still queued and stop the listener thread (at exit; a test that configured logging).

    Records logged afterwards wait in the queue until `configure_logging` is called again.
    """
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


def _log_uncaught(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    logging.getLogger("bot").critical("uncaught exception", exc_info=(kind, error, traceback))


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):
        # A format string that does not match its arguments must still be logged, not lost.
        return f"{record.msg!s} {record.args!r}"


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text


def _plain(value: object) -> object:
    """`value` as JSON-ready data: dataclasses become dicts, containers are walked, the rest stays."""
    if isinstance(value, _SCALARS):
        return value  # most extras (ids, counts, durations): no dataclass check
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    return value


def _scrub(value: object, redact: Redact) -> object:
    if isinstance(value, bool | int | float) or value is None:
        return value
    plain = _plain(value)
    if isinstance(plain, str):
        return redact(plain)
    if isinstance(plain, dict):
        return {redact(key): _scrub(item, redact) for key, item in plain.items()}
    if isinstance(plain, list):
        return [_scrub(item, redact) for item in plain]
    if isinstance(plain, bool | int | float) or plain is None:
        return plain
    return redact(str(plain))


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # as json.dumps writes it, without its encoder
    return json.dumps(_plain(value), default=str)
