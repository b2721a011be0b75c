"""`configure_logging`: readable text or JSON lines, and the bot token never reaches the output."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator

import pytest

from bot.observability.logging_setup import RedactingFilter, configure_logging, flush_logs, stop_logging
from generation.results import Timings
from tests.fixtures.bot import StartBot, finished

# Shaped like a real bot token (base64 user id . timestamp . HMAC); assembled so scanners leave it be.
TOKEN = ".".join(["MTA4NzY1NDMyMTA5ODc2NTQzMg", "GaBcDe", "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"])
OTHER_TOKEN = ".".join(["OTk5ODg4Nzc3NjY2NTU1NDQ0Mw", "Xy_-zz", "c2Vjb25kLWJvdC10b2tlbi1sZWFrZWQtaGVyZQ"])
log = logging.getLogger("bot.test")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, excepthook = list(root.handlers), root.level, sys.excepthook
    yield
    stop_logging()
    for logger in [
        root,
        *(item for item in root.manager.loggerDict.values() if isinstance(item, logging.Logger)),
    ]:
        for handler in logger.handlers:
            for each in [each for each in handler.filters if isinstance(each, RedactingFilter)]:
                handler.removeFilter(each)
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook = excepthook


def _output(capsys: pytest.CaptureFixture[str]) -> str:
    flush_logs()  # records are written by the listener thread
    return capsys.readouterr().err


class Probe:
    """An argument that notes on which threads it was turned into text."""

    def __init__(self) -> None:
        self.formatted_on: list[threading.Thread] = []

    def __str__(self) -> str:
        self.formatted_on.append(threading.current_thread())
        return "probe"


def test_a_record_is_formatted_and_written_off_the_thread_that_logged_it(capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger().handlers.clear()  # as in the bot: no other handler (pytest's log capture formats too)
    configure_logging("INFO", "text", [])
    probe = Probe()

    log.info("value=%s", probe)

    assert "value=probe" in _output(capsys)
    assert probe.formatted_on
    assert threading.current_thread() not in probe.formatted_on


def test_a_record_below_the_level_is_never_formatted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", [])
    probe = Probe()

    log.debug("value=%s", probe)

    assert _output(capsys) == ""
    assert probe.formatted_on == []


def test_a_token_in_the_message_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", [TOKEN])

    log.info(f"logging in with {TOKEN}")

    out = _output(capsys)
    assert TOKEN not in out
    assert "logging in with [REDACTED]" in out


def test_a_token_in_the_arguments_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", [TOKEN])

    log.warning("token was %s", TOKEN)

    out = _output(capsys)
    assert TOKEN not in out
    assert "token was [REDACTED]" in out


def test_a_token_in_an_exception_message_and_traceback_is_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "text", [TOKEN])

    try:
        raise RuntimeError(f"login failed for {TOKEN}")
    except RuntimeError:
        log.exception("could not connect")

    out = _output(capsys)
    assert TOKEN not in out
    assert "Traceback (most recent call last)" in out
    assert "RuntimeError: login failed for [REDACTED]" in out


def test_json_lines_carry_the_record_fields_and_extras(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json", [TOKEN])

    log.info("job finished", extra={"job_id": "j1", "user_id": 42, "timings": Timings(denoise_s=8.0)})

    entry = json.loads(_output(capsys))
    assert entry["level"] == "INFO"
    assert entry["logger"] == "bot.test"
    assert entry["message"] == "job finished"
    assert entry["time"].endswith("+00:00")
    assert entry["job_id"] == "j1"
    assert entry["user_id"] == 42
    assert entry["timings"] == {"load_s": 0.0, "denoise_s": 8.0, "decode_s": 0.0, "encode_s": 0.0}


def test_json_mode_redacts_the_token_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json", [TOKEN])

    try:
        raise ValueError(TOKEN)
    except ValueError:
        log.exception("bad %s", TOKEN, extra={"headers": {"Authorization": f"Bot {TOKEN}"}})

    out = _output(capsys)
    entry = json.loads(out)
    assert TOKEN not in out
    assert entry["message"] == "bad [REDACTED]"
    assert entry["headers"] == {"Authorization": "Bot [REDACTED]"}
    assert entry["exc_info"].endswith("ValueError: [REDACTED]")


def test_text_mode_appends_extras_as_key_value_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", [])

    log.info("job queued", extra={"job_id": "j1", "guild_id": 7})

    line = _output(capsys).strip()
    assert line.endswith("INFO     bot.test: job queued  job_id=j1 guild_id=7")


def test_any_string_shaped_like_a_bot_token_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", [TOKEN])

    log.info("pasted by a user: %s", OTHER_TOKEN)

    assert OTHER_TOKEN not in _output(capsys)


def test_secrets_that_are_not_token_shaped_are_redacted_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", [TOKEN, "hf_notshapedlikeadiscordtoken"])

    log.info("hub token hf_notshapedlikeadiscordtoken")

    assert "hf_notshapedlikeadiscordtoken" not in _output(capsys)


def test_records_of_discord_py_loggers_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", "text", [TOKEN])

    logging.getLogger("discord.http").debug("PUT /applications with %s", TOKEN)

    out = _output(capsys)
    assert "discord.http" in out
    assert TOKEN not in out


def test_handlers_installed_before_get_the_redaction_filter(capsys: pytest.CaptureFixture[str]) -> None:
    # As `discord.utils.setup_logging` would do when the bot is started with `bot.run()`.
    library = logging.getLogger("discord")
    earlier = logging.StreamHandler(sys.stderr)
    library.addHandler(earlier)
    try:
        configure_logging("INFO", "text", [TOKEN])
        library.warning("token %s", TOKEN)
    finally:
        library.removeHandler(earlier)

    out = _output(capsys)
    assert "token [REDACTED]" in out
    assert TOKEN not in out


def test_an_uncaught_exception_is_logged_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", [TOKEN])

    error = RuntimeError(f"crashed holding {TOKEN}")
    sys.excepthook(RuntimeError, error, None)

    out = _output(capsys)
    assert "CRITICAL" in out
    assert "RuntimeError: crashed holding [REDACTED]" in out
    assert TOKEN not in out


def test_configuring_twice_replaces_the_handler(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text", [])
    configure_logging("INFO", "json", [])

    log.info("once")

    assert len(_output(capsys).splitlines()) == 1


def test_records_below_the_level_are_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("warning", "text", [])

    log.info("chatter")

    assert _output(capsys) == ""


@pytest.mark.parametrize(
    "line",
    [
        "POST https://discord.com/api/v10/interactions/123/{token}/callback with {{}} has returned 204",
        "PATCH https://discord.com/api/v10/webhooks/456/{token}/messages/@original has returned 200",
        "WebSocket Event: {{'t': 'INTERACTION_CREATE', 'd': {{'id': '1', 'token': '{token}'}}}}",
        'job context {{"user_id":7,"interaction_token":"{token}"}}',
    ],
)
def test_an_interaction_token_is_redacted_wherever_discord_py_or_we_log_it(
    capsys: pytest.CaptureFixture[str], line: str
) -> None:
    configure_logging("DEBUG", "text", [])
    interaction_token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpqVjNXTVB"

    logging.getLogger("discord.http").debug(line.format(token=interaction_token))

    out = _output(capsys)
    assert interaction_token not in out
    assert "[REDACTED]" in out


async def test_at_debug_a_whole_video_job_logs_no_interaction_token(
    start_bot: StartBot, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", "text", [])
    running = await start_bot()

    interaction = await running.emulator.invoke_slash(running.alice, running.channel, "video", {"prompt": "a fox"})
    await finished(running.emulator, interaction)

    out = _output(capsys)
    assert interaction.token not in out
    assert out.count("[REDACTED]") >= 3


def test_an_unknown_level_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR"):
        configure_logging("verbose", "text", [])
