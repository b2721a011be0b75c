"""Building the `data` of an APPLICATION_COMMAND interaction from what the bot synced.

The Discord client only lets a user submit what the command declares: known options, required ones
present, choices and ranges respected. A test that asks for anything else is wrong, so it gets a
ValueError here rather than an interaction real Discord could never send.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

from .models import Attachment, Channel, Guild, Role, User
from .payloads import channel_json, member_json, role_json, user_json


class OptionType(enum.IntEnum):
    """Application command option types."""

    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


_NESTING = (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP)

Uploader = Callable[[Attachment], dict[str, Any]]
"""Stores a file a user attaches and returns its `AttachmentResponse` (see `cdn.Cdn`)."""


def _no_uploads(attachment: Attachment) -> dict[str, Any]:
    raise ValueError(f"cannot attach {attachment.filename}: this command data has no CDN to upload to")


def slash_command_data(
    commands: list[dict[str, Any]],
    guild: Guild | None,
    path: str,
    args: Mapping[str, Any],
    upload: Uploader = _no_uploads,
    *,
    partial: bool = False,
) -> dict[str, Any]:
    """The interaction `data` for `/path` (e.g. `"video"` or `"admin pause"`) called with `args`.

    An attachment option takes an `Attachment`; `upload` stores it and gives its resolved form. With
    `partial`, required options may be missing (a command still being typed).
    """
    name, *subcommands = path.split()
    command = _command(commands, name)
    resolved: dict[str, dict[str, Any]] = {}
    options = _options(command.get("options") or [], subcommands, args, guild, resolved, upload, partial)
    data: dict[str, Any] = {"id": command["id"], "name": name, "type": 1, "options": options}
    if "guild_id" in command:
        data["guild_id"] = command["guild_id"]
    if resolved:
        data["resolved"] = resolved
    return data


def autocomplete_data(
    commands: list[dict[str, Any]], guild: Guild | None, path: str, args: Mapping[str, Any], focused: str
) -> dict[str, Any]:
    """The `data` of an APPLICATION_COMMAND_AUTOCOMPLETE interaction: `/path` being typed with `args`, the
    member typing `args[focused]` (a string, partial) into `focused`, an option that declares autocomplete.

    The other options are checked as a submitted command's are, except that required ones may be missing.
    """
    name, *subcommands = path.split()
    declared = _command(commands, name).get("options") or []
    for subcommand in subcommands:
        nested = next((o for o in declared if o["name"] == subcommand and o["type"] in _NESTING), None)
        if nested is None:
            raise LookupError(f"no subcommand {subcommand!r} (declared: {[o['name'] for o in declared]})")
        declared = nested.get("options") or []
    option = next((o for o in declared if o["name"] == focused), None)
    if option is None or not option.get("autocomplete"):
        raise ValueError(f"option {focused!r} of /{path} does not declare autocomplete")
    typed = args[focused]
    # Discord sends what is typed so far as a string, whatever the option's type; strings are what we emulate.
    if OptionType(option["type"]) is not OptionType.STRING or not isinstance(typed, str):
        raise NotImplementedError("only string options' autocomplete is emulated")
    data = slash_command_data(commands, guild, path, {k: v for k, v in args.items() if k != focused}, partial=True)
    leaf = data
    for _ in subcommands:
        leaf = leaf["options"][0]
    leaf["options"] = [*leaf["options"], {"name": focused, "type": option["type"], "value": typed, "focused": True}]
    return data


def _command(commands: list[dict[str, Any]], name: str) -> dict[str, Any]:
    command = next((c for c in commands if c["name"] == name and c.get("type", 1) == 1), None)
    if command is None:
        synced = ", ".join(sorted(c["name"] for c in commands)) or "none"
        raise LookupError(f"no synced slash command /{name} here (synced: {synced})")
    return command


def _options(
    declared: list[dict[str, Any]],
    subcommands: list[str],
    args: Mapping[str, Any],
    guild: Guild | None,
    resolved: dict[str, dict[str, Any]],
    upload: Uploader,
    partial: bool = False,
) -> list[dict[str, Any]]:
    if subcommands:
        name, *rest = subcommands
        nested = next((o for o in declared if o["name"] == name and o["type"] in _NESTING), None)
        if nested is None:
            raise LookupError(f"no subcommand {name!r} (declared: {[o['name'] for o in declared]})")
        inner = _options(nested.get("options") or [], rest, args, guild, resolved, upload, partial)
        return [{"name": name, "type": nested["type"], "options": inner}]
    if any(o["type"] in _NESTING for o in declared):
        raise ValueError(f"a subcommand is required: one of {[o['name'] for o in declared]}")
    by_name = {option["name"]: option for option in declared}
    unknown = set(args) - set(by_name)
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; declared: {sorted(by_name)}")
    built = []
    for option in declared:
        if option["name"] not in args:
            if option.get("required") and not partial:
                raise ValueError(f"option {option['name']!r} is required")
            continue
        value = _value(option, args[option["name"]], guild, resolved, upload)
        built.append({"name": option["name"], "type": option["type"], "value": value})
    return built


def _value(
    option: dict[str, Any], value: Any, guild: Guild | None, resolved: dict[str, dict[str, Any]], upload: Uploader
) -> Any:
    kind = OptionType(option["type"])
    name = option["name"]
    if kind is OptionType.STRING:
        _expect(isinstance(value, str), name, value, "a string")
        _in_range(name, len(value), option.get("min_length"), option.get("max_length"), "length")
    elif kind is OptionType.INTEGER:
        _expect(isinstance(value, int) and not isinstance(value, bool), name, value, "an integer")
        _in_range(name, value, option.get("min_value"), option.get("max_value"), "value")
    elif kind is OptionType.NUMBER:
        _expect(isinstance(value, int | float) and not isinstance(value, bool), name, value, "a number")
        _in_range(name, value, option.get("min_value"), option.get("max_value"), "value")
    elif kind is OptionType.BOOLEAN:
        _expect(isinstance(value, bool), name, value, "a boolean")
    elif kind is OptionType.USER:
        _expect(isinstance(value, User), name, value, "a User")
        resolved.setdefault("users", {})[str(value.id)] = user_json(value)
        if guild is not None and value.id in guild.members:
            member = guild.members[value.id]
            data = member_json(member, permissions=guild.permissions_of(member))
            del data["user"]
            resolved.setdefault("members", {})[str(value.id)] = data
        return str(value.id)
    elif kind is OptionType.ATTACHMENT:
        _expect(isinstance(value, Attachment), name, value, "an Attachment")
        resolved.setdefault("attachments", {})[str(value.id)] = upload(value)
        return str(value.id)
    elif kind is OptionType.CHANNEL:
        _expect(isinstance(value, Channel), name, value, "a Channel")
        _expect(guild is not None and value.guild_id == guild.id, name, value, "a channel of this server")
        kinds = option.get("channel_types")
        _expect(not kinds or int(value.type) in kinds, name, value, f"a channel of type {kinds}")
        # A resolved channel carries the invoking member's permissions there; these commands read only its id.
        resolved.setdefault("channels", {})[str(value.id)] = {**channel_json(value), "permissions": "0"}
        return str(value.id)
    elif kind is OptionType.ROLE:
        _expect(isinstance(value, Role), name, value, "a Role")
        resolved.setdefault("roles", {})[str(value.id)] = role_json(value)
        return str(value.id)
    else:
        raise NotImplementedError(f"option type {kind.name} is not emulated")
    choices = option.get("choices")
    if choices and value not in [choice["value"] for choice in choices]:
        raise ValueError(f"option {name!r}: {value!r} is not one of the choices {choices}")
    return value


def _expect(ok: bool, name: str, value: Any, kind: str) -> None:
    if not ok:
        raise ValueError(f"option {name!r} takes {kind}, got {value!r}")


def _in_range(name: str, amount: float, low: float | None, high: float | None, what: str) -> None:
    if (low is not None and amount < low) or (high is not None and amount > high):
        raise ValueError(f"option {name!r}: {what} {amount} is outside [{low}, {high}]")
